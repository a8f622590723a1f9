package io.tlsgate.devstack;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.tlsgate.testkit.PackageGraph;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * In every module of the repository, packages use each other in one direction only (read from
 * the sources: imports, static imports and fully qualified names). A package that needs one
 * that needs it back is a sign that code sits in the wrong place (docs/architecture.md).
 */
class PackageCyclesTest {

    /** The repository: the tests run in devstack/. */
    private static final Path ROOT = Path.of("..").toAbsolutePath().normalize();

    @Test
    void everyModulesPackagesUseEachOtherInOneDirection() throws IOException {
        List<String> modules = new ArrayList<>();
        StringBuilder report = new StringBuilder();
        try (Stream<Path> dirs = Files.list(ROOT)) {
            for (Path module : dirs.filter(d -> Files.isDirectory(d.resolve("src/main/java/io/tlsgate"))).sorted().toList()) {
                Path src = module.resolve("src/main/java");
                try (Stream<Path> packages = Files.list(src.resolve("io/tlsgate"))) {
                    for (Path base : packages.filter(Files::isDirectory).toList()) {
                        String root = "io.tlsgate." + base.getFileName();
                        modules.add(module.getFileName() + " (" + root + ")");
                        PackageGraph g = PackageGraph.read(src, root);
                        if (!g.cycles().isEmpty()) {
                            report.append(module.getFileName()).append(":\n").append(g.report());
                        }
                    }
                }
            }
        }
        assertTrue(modules.size() >= 9, "every module was read: " + modules);
        assertEquals("", report.toString());
    }

    @Test
    void aCycleThroughImportsOrQualifiedNamesIsFound(@TempDir Path src) throws IOException {
        write(src, "a/A.java", "package x.a;\nimport x.b.B;\nclass A {}\n");
        write(src, "b/B.java", "package x.b;\nclass B { Object o = new x.c.C(); }\n");
        write(src, "c/C.java", "package x.c;\nimport static x.a.A.f;\nclass C {}\n");
        write(src, "d/D.java", "package x.d;\nimport x.a.A;\nclass D {}\n");
        PackageGraph g = PackageGraph.read(src, "x");
        assertEquals(List.of(List.of("a", "b", "c")), g.cycles());
        assertEquals("""
                packages that use each other: [a, b, c]
                  a -> b: [a/A.java]
                  b -> c: [b/B.java]
                  c -> a: [c/C.java]
                """, g.report());
    }

    private static void write(Path root, String file, String text) throws IOException {
        Path p = root.resolve(file);
        Files.createDirectories(p.getParent());
        Files.writeString(p, text);
    }
}

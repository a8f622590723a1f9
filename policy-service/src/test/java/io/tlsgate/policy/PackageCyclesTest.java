package io.tlsgate.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsgate.testkit.PackageGraph;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** policy-service's packages use each other in one direction only (read from the sources). */
class PackageCyclesTest {

    @Test
    void packagesUseEachOtherInOneDirection() {
        PackageGraph g = PackageGraph.read(Path.of("src/main/java"), "io.tlsgate.policy");
        assertEquals(List.of(), g.cycles(), g::report);
    }

    @Test
    void theSharedHelpersUseNoFeaturePackage() {
        Map<String, Set<String>> uses = PackageGraph.read(Path.of("src/main/java"), "io.tlsgate.policy").uses();
        assertEquals(Set.of(), uses.get("."), "the root package");
        assertEquals(Set.of("."), uses.get("web"), "the web package");
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

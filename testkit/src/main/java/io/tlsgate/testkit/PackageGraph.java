package io.tlsgate.testkit;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which of a module's own packages use which, read from its sources: every {@code import}
 * (static ones too) and every fully qualified name below the module's root package counts as
 * a use of the package that declares the type. A service's packages must use each other in
 * one direction only; {@link #cycles()} lists every group of packages that reach each other,
 * and {@link #report()} names the files that make each of their edges.
 */
public final class PackageGraph {

    private static final Pattern PACKAGE = Pattern.compile("(?m)^\\s*package\\s+([\\w.]+)\\s*;");

    private final String root;
    /** package -> used package -> the files (relative to the source root) that use it. */
    private final Map<String, Map<String, Set<String>>> edges = new TreeMap<>();

    private PackageGraph(String root) {
        this.root = root;
    }

    /** Reads every {@code .java} file below {@code sourceRoot} (for a module: {@code src/main/java}). */
    public static PackageGraph read(Path sourceRoot, String rootPackage) {
        PackageGraph g = new PackageGraph(rootPackage);
        Pattern use = Pattern.compile("\\b" + Pattern.quote(rootPackage) + "((?:\\.[a-z_][\\w]*)*)\\.([A-Z*])");
        try (Stream<Path> files = Files.walk(sourceRoot)) {
            for (Path f : files.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                String text = Files.readString(f);
                Matcher p = PACKAGE.matcher(text);
                if (!p.find()) {
                    continue;
                }
                String from = p.group(1);
                g.edges.computeIfAbsent(from, k -> new TreeMap<>());
                Matcher m = use.matcher(text.substring(p.end()));
                while (m.find()) {
                    String to = rootPackage + m.group(1);
                    if (!to.equals(from)) {
                        g.edges.get(from).computeIfAbsent(to, k -> new TreeSet<>())
                                .add(sourceRoot.relativize(f).toString());
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return g;
    }

    /** The packages each package uses (short names relative to the root package; the root itself is {@code .}). */
    public Map<String, Set<String>> uses() {
        Map<String, Set<String>> out = new TreeMap<>();
        edges.forEach((from, to) -> {
            Set<String> names = new TreeSet<>();
            to.keySet().forEach(t -> names.add(shortName(t)));
            out.put(shortName(from), names);
        });
        return out;
    }

    /**
     * Every group of two or more packages that use each other directly or through others (the
     * strongly connected components of the graph), each sorted, in short names.
     */
    public List<List<String>> cycles() {
        return new Tarjan().run().stream().filter(c -> c.size() > 1)
                .map(c -> c.stream().map(this::shortName).sorted().toList()).toList();
    }

    /** The cycles with the files behind each of their edges; empty when there is none. */
    public String report() {
        StringBuilder b = new StringBuilder();
        for (List<String> cycle : cycles()) {
            b.append("packages that use each other: ").append(cycle).append('\n');
            for (String from : cycle) {
                edges.get(fullName(from)).forEach((to, files) -> {
                    if (cycle.contains(shortName(to))) {
                        b.append("  ").append(from).append(" -> ").append(shortName(to)).append(": ").append(files)
                                .append('\n');
                    }
                });
            }
        }
        return b.toString();
    }

    private String shortName(String pkg) {
        return pkg.equals(root) ? "." : pkg.substring(root.length() + 1);
    }

    private String fullName(String shortName) {
        return shortName.equals(".") ? root : root + "." + shortName;
    }

    /** Tarjan's strongly connected components over the packages that have sources. */
    private final class Tarjan {
        private final Map<String, Integer> index = new HashMap<>();
        private final Map<String, Integer> low = new HashMap<>();
        private final Deque<String> stack = new ArrayDeque<>();
        private final Set<String> onStack = new TreeSet<>();
        private final List<List<String>> out = new ArrayList<>();

        List<List<String>> run() {
            edges.keySet().forEach(p -> {
                if (!index.containsKey(p)) {
                    visit(p);
                }
            });
            return out;
        }

        private void visit(String p) {
            index.put(p, index.size());
            low.put(p, index.get(p));
            stack.push(p);
            onStack.add(p);
            for (String q : edges.getOrDefault(p, Map.of()).keySet()) {
                if (!index.containsKey(q)) {
                    visit(q);
                    low.put(p, Math.min(low.get(p), low.get(q)));
                } else if (onStack.contains(q)) {
                    low.put(p, Math.min(low.get(p), index.get(q)));
                }
            }
            if (low.get(p).equals(index.get(p))) {
                List<String> component = new ArrayList<>();
                String q;
                do {
                    q = stack.pop();
                    onStack.remove(q);
                    component.add(q);
                } while (!q.equals(p));
                out.add(component);
            }
        }
    }
}

package io.tlsgate.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsgate.testkit.PackageGraph;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * policy-service's shared helpers sit below its feature packages (the whole repository's
 * packages are checked for cycles by devstack's PackageCyclesTest).
 */
class PackageCyclesTest {

    @Test
    void theSharedHelpersUseNoFeaturePackage() {
        Map<String, Set<String>> uses = PackageGraph.read(Path.of("src/main/java"), "io.tlsgate.policy").uses();
        assertEquals(Set.of(), uses.get("."), "the root package");
        assertEquals(Set.of("."), uses.get("web"), "the web package");
    }
}

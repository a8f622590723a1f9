package io.tlsgate.cert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsgate.testkit.PackageGraph;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * cert-service's request helpers sit below its feature packages (the whole repository's
 * packages are checked for cycles by devstack's PackageCyclesTest).
 */
class PackageCyclesTest {

    @Test
    void theWebPackageUsesNoOtherPackageOfTheService() {
        assertEquals(Set.of(), PackageGraph.read(Path.of("src/main/java"), "io.tlsgate.cert").uses().get("web"));
    }
}

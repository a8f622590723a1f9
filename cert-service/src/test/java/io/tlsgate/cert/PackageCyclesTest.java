package io.tlsgate.cert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.tlsgate.testkit.PackageGraph;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** cert-service's packages use each other in one direction only (read from the sources). */
class PackageCyclesTest {

    @Test
    void packagesUseEachOtherInOneDirection() {
        PackageGraph g = PackageGraph.read(Path.of("src/main/java"), "io.tlsgate.cert");
        assertEquals(List.of(), g.cycles(), g::report);
        assertEquals(Set.of(), g.uses().get("web"), "the web package uses no other package of the service");
    }
}

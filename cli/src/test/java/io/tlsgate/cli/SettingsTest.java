package io.tlsgate.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SettingsTest {

    @TempDir
    Path dir;

    @Test
    void flagThenEnvironmentThenFileThenDefault() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"),
                "policy-url=https://file:1\ncert-url=https://file:2\ndelivery-url=https://file:3/\ntoken=from-file\n");
        Map<String, String> env = Map.of(Settings.CONFIG_ENV, file.toString(), "TLSGATE_CERT_URL", "https://env:2",
                "TLSGATE_DELIVERY_URL", "https://env:3");
        Settings s = Settings.resolve(Map.of("delivery-url", "https://flag:3"), env, dir);
        assertEquals("https://file:1", s.url(Service.POLICY).toString());
        assertEquals("https://env:2", s.url(Service.CERT).toString());
        assertEquals("https://flag:3", s.url(Service.DELIVERY).toString());
        assertEquals("from-file", s.token());
        assertEquals("from-env", Settings.resolve(Map.of(), Map.of(Settings.CONFIG_ENV, file.toString(), "TLSGATE_TOKEN", "from-env"),
                dir).token());
        assertEquals("from-flag", Settings.resolve(Map.of("token", "from-flag", "config", file.toString()),
                Map.of("TLSGATE_TOKEN", "from-env"), dir).token());
    }

    @Test
    void aTokenFileFlagWinsOverATokenFromTheEnvironmentOrTheFile() throws Exception {
        Path tokenFile = Files.writeString(dir.resolve("t"), "from-token-file\n");
        Path file = Files.writeString(dir.resolve("c.properties"), "token=from-file\n");
        assertEquals("from-token-file", Settings.resolve(Map.of("token-file", tokenFile.toString(), "config", file.toString()),
                Map.of("TLSGATE_TOKEN", "from-env"), dir).token());
        assertEquals("from-env", Settings.resolve(Map.of("config", file.toString()), Map.of("TLSGATE_TOKEN", "from-env",
                "TLSGATE_TOKEN_FILE", tokenFile.toString()), dir).token());
        assertEquals("from-token-file", Settings.resolve(Map.of("config", file.toString()),
                Map.of("TLSGATE_TOKEN_FILE", tokenFile.toString()), dir).token());
    }

    @Test
    void defaultsAreDevstacksPortsAndTheDefaultFileIsOptional() {
        Settings s = Settings.resolve(Map.of(), Map.of(), dir);
        assertEquals("https://localhost:8081", s.url(Service.POLICY).toString());
        assertEquals("https://localhost:8082", s.url(Service.CERT).toString());
        assertEquals("https://localhost:8083", s.url(Service.DELIVERY).toString());
        assertNull(s.token());
        assertNull(s.cacert());
        CliException e = assertThrows(CliException.class, s::requireToken);
        assertEquals(CliException.USAGE, e.exitCode());
    }

    @Test
    void theDefaultFileIsReadWhenItExists() throws Exception {
        Files.createDirectories(dir.resolve(".config/tlsgate"));
        Files.writeString(dir.resolve(".config/tlsgate/config.properties"), "token=home\n");
        assertEquals("home", Settings.resolve(Map.of(), Map.of(), dir).token());
    }

    @Test
    void relativePathsInTheFileAreRelativeToIt() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("sub"));
        Files.writeString(sub.resolve("ca.pem"), "x");
        Files.writeString(sub.resolve("token"), "  secret-token \n");
        Path file = Files.writeString(sub.resolve("c.properties"), "cacert=ca.pem\ntoken-file=token\n");
        Settings s = Settings.resolve(Map.of("config", file.toString()), Map.of(), dir);
        assertEquals(sub.resolve("ca.pem").toAbsolutePath(), s.cacert().toAbsolutePath());
        assertEquals("secret-token", s.token());
    }

    @Test
    void mistakesAreUsageErrorsThatSayWhat() throws Exception {
        Path file = Files.writeString(dir.resolve("c.properties"), "polcy-url=https://x\n");
        assertMessage("unknown key 'polcy-url'", Map.of("config", file.toString()), Map.of());
        assertMessage("does not exist", Map.of("config", dir.resolve("absent").toString()), Map.of());
        assertMessage("policy-url: 'ftp://x' is not an http(s) URL", Map.of("policy-url", "ftp://x"), Map.of());
        assertMessage("cacert: cannot read", Map.of(), Map.of("TLSGATE_CACERT", dir.resolve("absent.pem").toString()));
        assertMessage("timeout: 'soon' is not a number", Map.of("timeout", "soon"), Map.of());
    }

    private void assertMessage(String expected, Map<String, String> flags, Map<String, String> env) {
        CliException e = assertThrows(CliException.class, () -> Settings.resolve(flags, env, dir));
        assertEquals(CliException.USAGE, e.exitCode());
        assertTrue(e.getMessage().contains(expected), e.getMessage());
    }
}

package io.tlsgate.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * Real peers from Debian's packages (openssl, swaks, postfix, ...) for tests: {@link #require}
 * installs the package with apt-get when its command is missing, so a fresh machine needs no
 * manual step.
 */
public final class DebianTools {

    private DebianTools() {}

    /** The path of {@code command}, installing {@code debianPackage} first when it is not on the PATH. */
    public static synchronized String require(String command, String debianPackage) {
        return require(command, debianPackage, java.util.List.of());
    }

    /**
     * As {@link #require(String, String)}, answering the package's debconf questions first with
     * {@code debconf} (lines for {@code debconf-set-selections}, e.g.
     * {@code "postfix postfix/main_mailer_type select No configuration"}), so that installing
     * asks nothing and configures nothing the test does not want.
     */
    public static synchronized String require(String command, String debianPackage, java.util.List<String> debconf) {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, command);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        if (!debconf.isEmpty()) {
            run(String.join("\n", debconf) + "\n", "debconf-set-selections");
        }
        aptInstall(debianPackage);
        for (String dir : new String[] {"/usr/bin", "/usr/sbin", "/bin", "/sbin"}) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return dir + "/" + command;
            }
        }
        throw new IllegalStateException(command + " is still missing after installing " + debianPackage);
    }

    /** Installs {@code debianPackage} (a library without a command, e.g. a Perl module) unless dpkg has it. */
    public static synchronized void requirePackage(String debianPackage) {
        Commands.Result status = Commands.run(Duration.ofMinutes(1), "dpkg-query", "-W", "-f=${Status}", debianPackage);
        if (status.exit() == 0 && status.output().contains("install ok installed")) {
            return;
        }
        aptInstall(debianPackage);
    }

    private static void aptInstall(String debianPackage) {
        run(null, "apt-get", "update", "-qq");
        run(null, "apt-get", "install", "-y", "-qq", "--no-install-recommends", debianPackage);
    }

    private static void run(String input, String... command) {
        Commands.run(Duration.ofMinutes(10), Map.of("DEBIAN_FRONTEND", "noninteractive"), input, command).orThrow(command);
    }
}

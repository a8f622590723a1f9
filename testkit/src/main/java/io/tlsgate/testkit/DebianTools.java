package io.tlsgate.testkit;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

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
            runWithInput(String.join("\n", debconf) + "\n", "debconf-set-selections");
        }
        run("apt-get", "update", "-qq");
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", debianPackage);
        for (String dir : new String[] {"/usr/bin", "/usr/sbin", "/bin", "/sbin"}) {
            if (Files.isExecutable(Path.of(dir, command))) {
                return dir + "/" + command;
            }
        }
        throw new IllegalStateException(command + " is still missing after installing " + debianPackage);
    }

    /** Installs {@code debianPackage} (a library without a command, e.g. a Perl module) unless dpkg has it. */
    public static synchronized void requirePackage(String debianPackage) {
        try {
            Process p = new ProcessBuilder("dpkg-query", "-W", "-f=${Status}", debianPackage).redirectErrorStream(true).start();
            String status = new String(p.getInputStream().readAllBytes());
            if (p.waitFor(1, TimeUnit.MINUTES) && p.exitValue() == 0 && status.contains("install ok installed")) {
                return;
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot run dpkg-query: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
        run("apt-get", "update", "-qq");
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", debianPackage);
    }

    private static void run(String... command) {
        runWithInput(null, command);
    }

    private static void runWithInput(String input, String... command) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().put("DEBIAN_FRONTEND", "noninteractive");
            Process p = pb.start();
            try (var stdin = p.getOutputStream()) {
                if (input != null) {
                    stdin.write(input.getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
            }
            String out = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed: " + out);
            }
        } catch (java.io.IOException e) {
            throw new IllegalStateException("cannot run " + command[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

package io.tlsgate.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real Debian Postfix as an SMTP peer for tests: a private instance (its own configuration,
 * queue and data directories in a temporary directory) whose smtpd listens on
 * {@code 127.0.0.1:<free port>}, relays for {@code 127.0.0.0/8} and puts every message it
 * accepts on hold, so that a test can count the messages and read their envelopes
 * ({@code postqueue -j}) and content ({@code postcat}). Nothing is ever delivered onwards.
 *
 * <p>The {@code postfix} package is installed through {@link DebianTools} when missing, with
 * debconf answered "No configuration": no {@code /etc/postfix/main.cf}, so no system-wide
 * Postfix starts (and one that is running anyway after the install is stopped). The instance is
 * started with {@code postfix -c DIR start} (as root) and {@link #close()} stops it and deletes
 * the directory.
 *
 * <p>It is deliberately lenient like Debian's stock configuration: with
 * {@code smtpd_forbid_bare_newline = no} (set explicitly where this Postfix has the parameter:
 * Debian 12's 3.7.11 has it, default {@code no}), a bare LF ends a line, so {@code <LF>.<LF>}
 * or {@code <LF>.<CR><LF>} ends DATA and what follows is read as commands. That is the peer an
 * SMTP smuggling attack needs; tests prove tlsgate never hands it such bytes.
 */
public final class PostfixPeer implements AutoCloseable {

    /** One message in the queue: {@code postqueue -j}'s fields. */
    public record Queued(String queueId, String queueName, String sender, List<String> recipients) {}

    private static final AtomicInteger INSTANCES = new AtomicInteger();
    private static final Pattern QUEUE_ID = Pattern.compile("\"queue_id\"\\s*:\\s*\"([^\"]*)\"");
    private static final Pattern QUEUE_NAME = Pattern.compile("\"queue_name\"\\s*:\\s*\"([^\"]*)\"");
    private static final Pattern SENDER = Pattern.compile("\"sender\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
    private static final Pattern ADDRESS = Pattern.compile("\"address\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");

    private final Path dir;
    private final Path config;
    private final String hostname;
    private final int port;
    private boolean running;
    /** PEM of the server's key and chain for STARTTLS; null: no STARTTLS. */
    private String tls;

    private PostfixPeer(Path dir, String hostname, int port) {
        this.dir = dir;
        this.config = dir.resolve("etc");
        this.hostname = hostname;
        this.port = port;
    }

    /** Installs Postfix if needed and starts a private instance on a free loopback port. */
    public static PostfixPeer start() throws IOException {
        return start(null);
    }

    /**
     * As {@link #start()}, offering STARTTLS ({@code smtpd_tls_security_level = may}) with
     * {@code keyAndChainPem}: the private key, then the server certificate and its chain, in PEM.
     */
    public static PostfixPeer startWithTls(String keyAndChainPem) throws IOException {
        return start(keyAndChainPem);
    }

    private static PostfixPeer start(String keyAndChainPem) throws IOException {
        String postfix = install();
        Path dir = Files.createTempDirectory("tlsgate-postfix-");
        // The Postfix daemons run as the postfix user and must reach the queue below this directory.
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        String hostname = "postfix-peer-" + ProcessHandle.current().pid() + "-" + INSTANCES.incrementAndGet() + ".test";
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
            port = probe.getLocalPort();
        }
        PostfixPeer peer = new PostfixPeer(dir, hostname, port);
        peer.tls = keyAndChainPem;
        try {
            peer.configure();
            peer.running = true;
            peer.startMaster(postfix);
            peer.awaitBanner(Duration.ofSeconds(20));
        } catch (IOException | RuntimeException | Error e) {
            try {
                peer.close();
            } catch (IOException | RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
        return peer;
    }

    /** The {@code postfix} command, installed (without a system-wide configuration) when missing. */
    public static synchronized String install() {
        if (Files.isExecutable(Path.of("/usr/sbin/postfix"))) {
            return "/usr/sbin/postfix"; // where Debian puts it, on the PATH or not
        }
        String postfix = DebianTools.require("postfix", "postfix", List.of(
                "postfix postfix/main_mailer_type select No configuration",
                "postfix postfix/mailname string postfix-peer.test"));
        if (Files.exists(Path.of("/etc/postfix/main.cf")) && exec(Duration.ofSeconds(30), postfix, "status").exit() == 0) {
            // Only the install could have started it: keep no system-wide Postfix listening on port 25.
            exec(Duration.ofMinutes(1), postfix, "stop");
        }
        return postfix;
    }

    /** The value of a parameter's built-in default ({@code postconf -d}), or null when this Postfix has no such parameter. */
    public static String defaultValue(String parameter) {
        install();
        Commands.Result r = exec(Duration.ofSeconds(30), tool("postconf"), "-d", "-h", parameter);
        String out = r.output().strip();
        return r.exit() != 0 || out.contains("unknown parameter") ? null : out;
    }

    /** This Postfix's version ({@code mail_version}). */
    public static String version() {
        return defaultValue("mail_version");
    }

    public String host() {
        return "127.0.0.1";
    }

    public int port() {
        return port;
    }

    /** The name smtpd greets with. */
    /** The instance's configuration directory: {@code MAIL_CONFIG} for Postfix tools (posttls-finger) run beside it. */
    public Path configDirectory() {
        return config;
    }

    public String hostname() {
        return hostname;
    }

    /** The value of a parameter in this instance ({@code postconf -c DIR -h}). */
    public String parameter(String name) {
        return exec(Duration.ofSeconds(30), tool("postconf"), "-c", config.toString(), "-h", name).output().strip();
    }

    /** Every message in the instance's queues (they all stay on hold), in {@code postqueue}'s order: not by arrival. */
    public List<Queued> queued() {
        Commands.Result r = exec(Duration.ofSeconds(30), tool("postqueue"), "-c", config.toString(), "-j");
        if (r.exit() != 0) {
            throw new IllegalStateException("postqueue -j failed: " + r.output() + "\n" + log());
        }
        List<Queued> out = new ArrayList<>();
        for (String line : r.output().split("\n")) {
            if (line.isBlank()) {
                continue;
            }
            List<String> rcpts = new ArrayList<>();
            Matcher a = ADDRESS.matcher(line);
            while (a.find()) {
                rcpts.add(unescape(a.group(1)));
            }
            out.add(new Queued(field(QUEUE_ID, line), field(QUEUE_NAME, line), unescape(field(SENDER, line)), List.copyOf(rcpts)));
        }
        return out;
    }

    /**
     * The queue once it has held still for {@code quiet} (no message added or removed), at most
     * {@code timeout}: how a test waits for whatever a connection made Postfix queue.
     */
    public List<Queued> awaitQuiet(Duration quiet, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Queued> last = queued();
        long since = System.nanoTime();
        while (System.nanoTime() < deadline) {
            Thread.sleep(100);
            List<Queued> now = queued();
            if (!ids(now).equals(ids(last))) {
                last = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= quiet.toNanos()) {
                return now;
            }
        }
        return last;
    }

    /** The queue once it has at least {@code count} messages (or what it has after {@code timeout}). */
    public List<Queued> awaitAtLeast(int count, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Queued> now = queued();
        while (now.size() < count && System.nanoTime() < deadline) {
            Thread.sleep(100);
            now = queued();
        }
        return now;
    }

    /** A queued message's headers and body as Postfix stored them ({@code postcat -h -b}). */
    public String content(String queueId) {
        Commands.Result r = exec(Duration.ofSeconds(30), tool("postcat"), "-c", config.toString(), "-h", "-b", "-q", queueId);
        if (r.exit() != 0) {
            throw new IllegalStateException("postcat -q " + queueId + " failed: " + r.output());
        }
        return r.output();
    }

    /** Deletes every queued message ({@code postsuper -d ALL}). */
    public void clear() {
        Commands.Result r = exec(Duration.ofSeconds(30), tool("postsuper"), "-c", config.toString(), "-d", "ALL");
        if (r.exit() != 0) {
            throw new IllegalStateException("postsuper -d ALL failed: " + r.output());
        }
    }

    /** The instance's own mail log (smtpd's, cleanup's, ...), for failure messages. */
    public String log() {
        try {
            Path f = dir.resolve("maillog");
            return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
        } catch (IOException e) {
            return "(cannot read the mail log: " + e.getMessage() + ")";
        }
    }

    /** Stops the instance ({@code postfix stop}, or {@code abort} when that fails) and deletes its directory. */
    @Override
    public void close() throws IOException {
        try {
            if (running) {
                running = false;
                if (exec(Duration.ofMinutes(1), tool("postfix"), "-c", config.toString(), "stop").exit() != 0) {
                    exec(Duration.ofMinutes(1), tool("postfix"), "-c", config.toString(), "abort");
                }
                awaitMasterGone(Duration.ofSeconds(20));
            }
        } finally {
            if (Files.exists(dir)) {
                try (var files = Files.walk(dir)) {
                    files.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
                }
            }
        }
    }

    private void configure() throws IOException {
        Files.createDirectories(config);
        Files.createDirectories(dir.resolve("queue"));
        Files.createDirectories(dir.resolve("data"));
        var users = dir.getFileSystem().getUserPrincipalLookupService();
        Path data = dir.resolve("data");
        Files.setOwner(data, users.lookupPrincipalByName("postfix"));
        Files.getFileAttributeView(data, java.nio.file.attribute.PosixFileAttributeView.class)
                .setGroup(users.lookupPrincipalByGroupName("postfix"));
        String main = template("main.cf").replace("{dir}", dir.toString()).replace("{meta}", metaDirectory())
                .replace("{hostname}", hostname);
        // Lenient about bare LF, as Debian's stock configuration is (where the parameter exists at all).
        if (defaultValue("smtpd_forbid_bare_newline") != null) {
            main += "smtpd_forbid_bare_newline = no\n";
        }
        if (tls != null) {
            Path pem = config.resolve("tls.pem");
            Files.writeString(pem, tls);
            Files.setPosixFilePermissions(pem, PosixFilePermissions.fromString("rw-------"));
            main += "smtpd_tls_security_level = may\nsmtpd_tls_chain_files = " + pem + "\nsmtpd_tls_loglevel = 1\n";
        }
        Files.writeString(config.resolve("main.cf"), main);
        Files.writeString(config.resolve("master.cf"), template("master.cf").replace("{port}", String.valueOf(port)));
    }

    /** A configuration file of the instance, from testkit's resources {@code postfix/}. */
    private static String template(String name) throws IOException {
        try (InputStream in = PostfixPeer.class.getResourceAsStream("postfix/" + name)) {
            if (in == null) {
                throw new IOException("testkit resource postfix/" + name + " is missing");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /**
     * {@code postfix -c DIR start}, its output in a file: the master it leaves running must not
     * hold a pipe of ours open.
     */
    private void startMaster(String postfix) throws IOException {
        Path out = dir.resolve("start.log");
        try {
            Process p = new ProcessBuilder(postfix, "-c", config.toString(), "start").redirectErrorStream(true)
                    .redirectOutput(out.toFile()).start();
            p.getOutputStream().close();
            if (!p.waitFor(1, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new IOException("postfix start did not finish: " + Files.readString(out));
            }
            if (p.exitValue() != 0) {
                throw new IOException("postfix start failed (" + p.exitValue() + "): " + Files.readString(out) + "\n" + log());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    /** Where this Postfix keeps postfix-files (Debian: /etc/postfix), which {@code postfix start} needs. */
    private static String metaDirectory() {
        String d = defaultValue("meta_directory");
        return d == null || d.isBlank() ? "/etc/postfix" : d;
    }

    private void awaitBanner(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress(host(), port), 2000);
                s.setSoTimeout(5000);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                byte[] buf = new byte[512];
                int n = in.read(buf);
                String banner = n > 0 ? new String(buf, 0, n, StandardCharsets.US_ASCII) : "";
                if (banner.startsWith("220 ")) {
                    out.write("QUIT\r\n".getBytes(StandardCharsets.US_ASCII));
                    return;
                }
                last = new IOException("unexpected banner: " + banner);
            } catch (IOException e) {
                last = e;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException(e);
            }
        }
        throw new IOException("Postfix on 127.0.0.1:" + port + " did not greet within " + timeout + ": " + last + "\n" + log(), last);
    }

    private void awaitMasterGone(Duration timeout) {
        Path pidFile = dir.resolve("queue").resolve("pid").resolve("master.pid");
        try {
            if (!Files.exists(pidFile)) {
                return;
            }
            long pid = Long.parseLong(Files.readString(pidFile).strip());
            ProcessHandle.of(pid).ifPresent(h -> {
                try {
                    h.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                } catch (Exception e) {
                    h.destroyForcibly();
                }
            });
        } catch (IOException | NumberFormatException e) {
            // no master left to wait for
        }
    }

    /** Postfix's commands are in /usr/sbin, which a test JVM's PATH may lack. */
    private static Commands.Result exec(Duration timeout, String... command) {
        return Commands.run(timeout, command);
    }

    private static String tool(String name) {
        Path p = Path.of("/usr/sbin", name);
        return Files.isExecutable(p) ? p.toString() : name;
    }

    private static List<String> ids(List<Queued> qs) {
        return qs.stream().map(Queued::queueId).sorted().toList();
    }

    private static String field(Pattern p, String line) {
        Matcher m = p.matcher(line);
        return m.find() ? m.group(1) : "";
    }

    private static String unescape(String s) {
        return s.replace("\\\"", "\"").replace("\\\\", "\\");
    }
}

package io.tlsgate.devstack;

import java.io.IOException;
import java.io.Writer;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.kafka.common.Uuid;

/**
 * A real Kafka broker in KRaft mode (combined broker and controller, one node), run as a
 * separate JVM from devstack's own classpath, with its log directory under the data directory
 * so topics survive restarts. The storage is formatted on first start only.
 */
final class KafkaBroker {

    private KafkaBroker() {}

    static ChildProcess start(Path dir, int port, int controllerPort, Path logFile) throws Exception {
        Path logs = dir.resolve("logs");
        Path config = dir.resolve("server.properties");
        Files.createDirectories(logs);
        try (Writer w = Files.newBufferedWriter(config)) {
            w.write(String.join("\n",
                    "# written by devstack on every start",
                    "process.roles=broker,controller",
                    "node.id=1",
                    "controller.quorum.bootstrap.servers=localhost:" + controllerPort,
                    "listeners=PLAINTEXT://localhost:" + port + ",CONTROLLER://localhost:" + controllerPort,
                    "advertised.listeners=PLAINTEXT://localhost:" + port,
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    "log.dirs=" + logs,
                    "num.partitions=1",
                    "auto.create.topics.enable=true",
                    "offsets.topic.replication.factor=1",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    ""));
        }
        if (!Files.exists(logs.resolve("meta.properties"))) {
            ChildProcess format = ChildProcess.start("kafka-format",
                    java("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c",
                            config.toString(), "--standalone"),
                    Map.of(), dir, logFile);
            if (format.waitFor(120) != 0) {
                throw new IllegalStateException("formatting Kafka storage failed:\n" + format.tail(20));
            }
        }
        return ChildProcess.start("kafka", java("kafka.Kafka", config.toString()), Map.of(), dir, logFile);
    }

    /** Whether something accepts connections on localhost:port. */
    static boolean listening(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("localhost", port), 300);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** devstack's own class path with absolute entries: the broker runs in its data directory. */
    private static String absoluteClassPath() {
        return java.util.Arrays.stream(System.getProperty("java.class.path").split(java.io.File.pathSeparator))
                .map(e -> Path.of(e).toAbsolutePath().toString())
                .collect(java.util.stream.Collectors.joining(java.io.File.pathSeparator));
    }

    private static List<String> java(String mainClass, String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-Xmx256m");
        cmd.add("-XX:+UseSerialGC");
        cmd.add("-Dorg.slf4j.simpleLogger.defaultLogLevel=info");
        cmd.add("-Dorg.slf4j.simpleLogger.showDateTime=true");
        cmd.add("-cp");
        cmd.add(absoluteClassPath());
        cmd.add(mainClass);
        cmd.addAll(List.of(args));
        return cmd;
    }
}

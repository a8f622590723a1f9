package io.tlsgate.devstack;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A service's container image as {@code -Pimages} builds it (Jib, OCI archive), unpacked into a
 * directory, so that a test can run its entry point there as a plain process: {@code chroot}
 * into the image's files, as the image's user. No container runtime is needed (none runs here);
 * the process sees the image's files as a container would; network and process IDs are the host's.
 *
 * @param rootfs the image's files, every layer applied in order
 * @param config the image configuration's {@code config} object (Entrypoint, User, ExposedPorts ...)
 */
record ContainerImage(Path rootfs, JsonNode config) {

    /**
     * Builds {@code service}'s image the way docs/deploy.md says for a machine without a registry:
     * the base by deploy/images/local-base-image.sh (once per directory), then Jib's execution of
     * the images profile. Returns the OCI archive.
     */
    static Path build(Path repo, String service, Path work) throws Exception {
        Path base = work.resolve("jre-base.tar");
        if (!Files.exists(base)) {
            run(repo, List.of("bash", repo.resolve("deploy/images/local-base-image.sh").toString(), base.toString()), 300);
        }
        // The module's quarkus-app is there already (the reactor packaged it before devstack's tests).
        run(repo, List.of(repo.resolve("mvnw").toString(), "-B", "-q", "-Pimages", "jib:buildTar@image", "-pl", service, "-am",
                "-Dtlsgate.image.base=tar://" + base.toAbsolutePath()), 600);
        return repo.resolve(service).resolve("target/image/" + service + ".tar");
    }

    /** Unpacks an OCI archive: its manifest's layers in order into {@code rootfs}. */
    static ContainerImage unpack(Path archive, Path rootfs) throws Exception {
        Path oci = Files.createTempDirectory(rootfs.getParent(), "oci-");
        Files.createDirectories(rootfs);
        run(oci, List.of("tar", "-xf", archive.toString(), "-C", oci.toString()), 120);
        JsonNode index = ClusterApi.JSON.readTree(oci.resolve("index.json").toFile());
        JsonNode manifest = ClusterApi.JSON.readTree(blob(oci, index.at("/manifests/0/digest").asText()).toFile());
        for (JsonNode layer : manifest.get("layers")) {
            // As root, tar keeps the owners recorded in the layer.
            run(oci, List.of("tar", "-xf", blob(oci, layer.get("digest").asText()).toString(), "-C", rootfs.toString()), 120);
        }
        JsonNode config = ClusterApi.JSON.readTree(blob(oci, manifest.at("/config/digest").asText()).toFile()).get("config");
        for (String mountPoint : List.of("proc", "dev", "sys")) {
            Files.createDirectories(rootfs.resolve(mountPoint));
        }
        return new ContainerImage(rootfs, config);
    }

    /**
     * The image's entry point, run inside its files as its user, with /proc, /dev and /sys as a
     * container runtime provides them (the JVM and the loader need /proc): bound in a mount
     * namespace of the process's own, so they go away with it.
     */
    List<String> command() {
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private", "sh", "-c",
                "for d in proc dev sys; do mount --rbind /$d \"$0/$d\" || exit 1; done; exec chroot \"$@\"",
                rootfs.toString(), "--userspec=" + config.get("User").asText(), rootfs.toString()));
        config.get("Entrypoint").forEach(a -> cmd.add(a.asText()));
        return cmd;
    }

    private static Path blob(Path oci, String digest) {
        return oci.resolve("blobs").resolve(digest.replace(':', '/'));
    }

    private static void run(Path dir, List<String> command, long seconds) throws Exception {
        Path log = Files.createTempFile("tlsgate-image-", ".log");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException(command + " did not finish in " + seconds + " s: " + Files.readString(log));
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(command + " exited with " + p.exitValue() + ":\n" + Files.readString(log));
        }
        Files.delete(log);
    }

    /** Deletes the unpacked files. */
    void delete() throws IOException {
        try (var files = Files.walk(rootfs.getParent())) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }
}

package io.tlsgate.testkit;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Runs an external command (Debian tools, Postfix's commands) and collects what it printed. */
public final class Commands {

    /** How a command ended: its exit code and its output (stdout and stderr together). */
    public record Result(int exit, String output) {

        /** The output, when the command succeeded; else an exception naming the command and what it said. */
        public String orThrow(String... command) {
            if (exit != 0) {
                throw new IllegalStateException(String.join(" ", command) + " failed (exit " + exit + "): " + output);
            }
            return output;
        }
    }

    private Commands() {}

    /** Runs {@code command} with nothing on its stdin, for at most {@code timeout}. */
    public static Result run(Duration timeout, String... command) {
        return run(timeout, Map.of(), null, command);
    }

    /** Runs {@code command} with {@code env} added to the environment and {@code input} (or nothing) on its stdin. */
    public static Result run(Duration timeout, Map<String, String> env, String input, String... command) {
        try {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().putAll(env);
            Process p = pb.start();
            try (OutputStream stdin = p.getOutputStream()) {
                if (input != null) {
                    stdin.write(input.getBytes(StandardCharsets.UTF_8));
                }
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new IllegalStateException(String.join(" ", command) + " did not finish in " + timeout);
            }
            return new Result(p.exitValue(), out);
        } catch (IOException e) {
            throw new IllegalStateException("cannot run " + command[0] + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}

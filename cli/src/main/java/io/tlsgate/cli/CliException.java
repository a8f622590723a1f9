package io.tlsgate.cli;

import java.util.List;

/**
 * A failure the command line reports in words and an exit code (docs/cli.md, "Exit codes"):
 * never a stack trace.
 */
public class CliException extends RuntimeException {

    public static final int REFUSED = 1;
    public static final int USAGE = 2;
    public static final int UNAVAILABLE = 3;
    public static final int WOULD_NOT_DELIVER = 4;
    public static final int INTERNAL = 5;

    private final int exitCode;
    private final List<String> details;

    public CliException(int exitCode, String message) {
        this(exitCode, message, List.of());
    }

    public CliException(int exitCode, String message, List<String> details) {
        super(message);
        this.exitCode = exitCode;
        this.details = List.copyOf(details);
    }

    public int exitCode() {
        return exitCode;
    }

    /** Further lines, such as each field the API refused and why. */
    public List<String> details() {
        return details;
    }

    static CliException usage(String message) {
        return new CliException(USAGE, message);
    }
}

package io.tlsgate.cli;

import java.io.PrintWriter;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/**
 * {@code tlsgate}: the command line over the services' REST APIs (docs/cli.md).
 */
@Command(name = "tlsgate", mixinStandardHelpOptions = true, versionProvider = Tlsgate.Version.class,
        description = "Drives tlsgate's services over their REST APIs: TLS checks, destination controls, "
                + "certificates and the delivery queue.",
        subcommands = {CheckCommand.class, DestCommand.class, CertCommand.class, QueueCommand.class, ConfigCommand.class,
            Tlsgate.Completion.class, CommandLine.HelpCommand.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:done",
            "1:the service refused the request (4xx); its problem detail and each refused field are printed",
            "2:usage: a bad option, argument, file or configuration",
            "3:a service could not be reached, timed out, or failed (5xx)",
            "4:check: no host would take the mail in the judged mode (it would defer or bounce)",
            "5:an unexpected error in tlsgate itself"},
        footerHeading = "%nConfiguration:%n",
        footer = "Each setting comes from the command's flag, else the environment (TLSGATE_POLICY_URL, TLSGATE_CERT_URL, "
            + "TLSGATE_DELIVERY_URL, TLSGATE_TOKEN, TLSGATE_TOKEN_FILE, TLSGATE_CACERT), else the configuration file "
            + "(--config, $TLSGATE_CONFIG, ~/.config/tlsgate/config.properties). See docs/cli.md.")
public final class Tlsgate extends Group {

    /** The command line with tlsgate's exit codes and error printing. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Tlsgate());
        cl.setExecutionExceptionHandler((e, line, parsed) -> {
            PrintWriter err = line.getErr();
            if (e instanceof CliException c) {
                err.println("tlsgate: " + c.getMessage());
                for (String d : c.details()) {
                    err.println("  " + d);
                }
                err.flush();
                if (c.exitCode() == CliException.USAGE) {
                    err.println("Try 'tlsgate " + String.join(" ", names(line)) + " --help'.");
                    err.flush();
                }
                return c.exitCode();
            }
            err.println("tlsgate: unexpected error: " + e);
            e.printStackTrace(err);
            err.flush();
            return CliException.INTERNAL;
        });
        cl.setParameterExceptionHandler((e, args) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("tlsgate: " + e.getMessage());
            err.println("Try 'tlsgate " + String.join(" ", names(e.getCommandLine())) + " --help'.");
            err.flush();
            return CliException.USAGE;
        });
        return cl;
    }

    private static java.util.List<String> names(CommandLine line) {
        java.util.LinkedList<String> names = new java.util.LinkedList<>();
        for (CommandLine c = line; c != null && c.getParent() != null; c = c.getParent()) {
            names.addFirst(c.getCommandName());
        }
        return names;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The version from the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Tlsgate.class.getPackage().getImplementationVersion();
            return new String[] {"tlsgate " + (v == null ? "(development build)" : v)};
        }
    }

    /** Prints the bash completion script (zsh loads it too, after bashcompinit). */
    @Command(name = "completion", mixinStandardHelpOptions = true,
            description = {"Prints a bash completion script for tlsgate (zsh: run 'autoload -U +X bashcompinit && bashcompinit' first).",
                "Try: source <(tlsgate completion)"})
    static final class Completion implements Runnable {
        @Spec
        CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().getOut().print(AutoComplete.bash("tlsgate", spec.root().commandLine()));
            spec.commandLine().getOut().flush();
        }
    }
}

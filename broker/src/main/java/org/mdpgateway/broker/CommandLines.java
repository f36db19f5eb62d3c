package org.mdpgateway.broker;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * What the broker's and the gateway's command lines have in common: a usage error prints the
 * program's name and the message, which names the flag, then {@code Try --help.}, and exits 2;
 * {@code --help} prints the usage and exits 0; a flag given twice takes the last value; an argument
 * starting with {@code @} is an argument, not a file to read arguments from.
 */
public final class CommandLines {
    /** The exit status of a usage error. */
    public static final int USAGE_ERROR = 2;

    private CommandLines() {}

    /**
     * A command line for {@code command}, a {@code @Command} object; run it with
     * {@link CommandLine#execute}. Subcommands declared on the command are dispatched by picocli.
     */
    public static CommandLine create(Object command, String program) {
        CommandLine commandLine = new CommandLine(command);
        commandLine.setOverwrittenOptionsAllowed(true);
        commandLine.setExpandAtFiles(false);
        commandLine.setUsageHelpWidth(120);
        commandLine.setUsageHelpLongOptionsMaxWidth(36);
        commandLine.setParameterExceptionHandler((e, args) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println(program + ": " + e.getMessage());
            err.println("Try --help.");
            err.flush();
            return USAGE_ERROR;
        });
        return commandLine;
    }

    /** Refuses {@code value} below {@code min}, naming {@code option}. */
    public static void atLeast(CommandSpec command, String option, long value, long min) {
        if (value < min) {
            throw usageError(command, option + " must be at least " + min + ", got " + value);
        }
    }

    /** A usage error of {@code command}: {@link CommandLine#execute} prints {@code message} and exits 2. */
    public static ParameterException usageError(CommandSpec command, String message) {
        CommandLine commandLine = command != null ? command.commandLine() : null;
        return new ParameterException(commandLine != null ? commandLine : new CommandLine(CommandSpec.create()),
                message);
    }

    /** A switch's value: {@code 1}, {@code true} or {@code yes} turn it on, anything else off. */
    public static final class Switch implements CommandLine.ITypeConverter<Boolean> {
        @Override
        public Boolean convert(String value) {
            String v = value.trim().toLowerCase(java.util.Locale.ROOT);
            return v.equals("1") || v.equals("true") || v.equals("yes");
        }
    }
}

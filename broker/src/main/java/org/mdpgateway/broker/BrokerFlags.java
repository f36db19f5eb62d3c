package org.mdpgateway.broker;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The standalone broker's command line: {@code --bind} and the {@link BrokerOptions} the gateway
 * takes too. Running it runs the broker; {@code keygen} writes a CURVE key pair instead.
 */
@Command(name = "mdp-broker", customSynopsis = {"java -jar mdp-broker.jar [options]",
        "java -jar mdp-broker.jar keygen NAME DIR"}, sortOptions = false, subcommands = Keygen.class,
        description = {"", "A Majordomo (MDP/0.2 and MMI) broker. SIGTERM stops it cleanly: workers get DISCONNECT.",
            ""})
public final class BrokerFlags implements Callable<Integer> {

    @Option(names = "--bind", paramLabel = "ENDPOINT", split = ",", defaultValue = BrokerConfig.DEFAULT_BIND,
            description = "where the broker listens; repeatable (default: ${DEFAULT-VALUE})")
    List<String> bind = new ArrayList<>();

    @Mixin
    BrokerOptions broker;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
    boolean help;

    /** The command line of the broker jar. */
    public static CommandLine commandLine(BrokerFlags flags) {
        return CommandLines.create(flags, "mdp-broker");
    }

    /**
     * Reads {@code args} without running anything.
     *
     * @throws CommandLine.ParameterException naming the flag that is wrong
     */
    public static BrokerFlags parse(String... args) {
        BrokerFlags flags = new BrokerFlags();
        commandLine(flags).parseArgs(args);
        if (!flags.help) {
            flags.config();
        }
        return flags;
    }

    public BrokerConfig config() {
        return broker.toConfig(bind);
    }

    public boolean help() {
        return help;
    }

    @Override
    public Integer call() {
        return BrokerMain.run(config());
    }
}

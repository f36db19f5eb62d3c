package org.mdpgateway.broker;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.mdpgateway.mdp.security.CurveCertificate;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code keygen NAME DIR}: a new CURVE key pair as {@code DIR/NAME.key} (the public certificate, for
 * the other side's allowed directory) and {@code DIR/NAME.key_secret} (readable by its owner only),
 * in the ZeroMQ certificate format that pyzmq and czmq read. A subcommand of both jars.
 */
@Command(name = "keygen", sortOptions = false,
        description = {"", "Writes a new CURVE key pair: NAME.key (public) and NAME.key_secret (secret) in DIR.", ""})
public final class Keygen implements Callable<Integer> {
    @Spec
    private CommandSpec command;

    @Parameters(index = "0", paramLabel = "NAME", description = "the certificates' file name, without extension")
    String name;

    @Parameters(index = "1", paramLabel = "DIR", description = "where to write them; made if missing")
    Path dir;

    @Option(names = {"-h", "--help"}, usageHelp = true, description = "this text")
    boolean help;

    @Override
    public Integer call() {
        if (name.isBlank() || name.contains("/") || name.contains("\\") || name.startsWith(".")) {
            throw CommandLines.usageError(command, "NAME must be a plain file name, got '" + name + "'");
        }
        try {
            Path[] files = CurveCertificate.generate().writeTo(dir, name);
            command.commandLine().getOut().println("wrote " + files[0] + " (public) and " + files[1] + " (secret)");
            command.commandLine().getOut().flush();
            return 0;
        } catch (IOException e) {
            command.commandLine().getErr().println("keygen: cannot write the certificates: " + e.getMessage());
            command.commandLine().getErr().flush();
            return 1;
        }
    }
}

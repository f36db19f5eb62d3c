package org.mdpgateway.testing;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** A second JVM running one of our jars, for tests that need a real process (signals, exit codes). */
public final class JavaProcess {
    private JavaProcess() {}

    /** The {@code java} this JVM runs on, so the child runs on the same JDK. */
    public static String javaExecutable() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    /** {@code java [jvmOptions] -jar jar [args]}, not yet started; the caller sets up its output. */
    public static ProcessBuilder jar(Path jar, List<String> jvmOptions, List<String> args) {
        List<String> command = new ArrayList<>();
        command.add(javaExecutable());
        command.addAll(jvmOptions);
        command.add("-jar");
        command.add(jar.toAbsolutePath().toString());
        command.addAll(args);
        return new ProcessBuilder(command);
    }
}

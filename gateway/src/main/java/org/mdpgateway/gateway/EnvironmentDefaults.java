package org.mdpgateway.gateway;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine.IDefaultValueProvider;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Each option's environment variable twin, as its default: {@code MDPGW_} and the option's longest
 * name in upper case with underscores ({@code --http-port} is {@code MDPGW_HTTP_PORT}). A value
 * given on the command line replaces it. A repeatable option (declared with {@code split = ","})
 * takes a comma-separated list; blank items and blank variables count as unset.
 */
final class EnvironmentDefaults implements IDefaultValueProvider {
    static final String PREFIX = "MDPGW_";

    private final Map<String, String> env;

    EnvironmentDefaults(Map<String, String> env) {
        this.env = Map.copyOf(env);
    }

    static String envName(String option) {
        return PREFIX + option.replaceFirst("^-+", "").toUpperCase(Locale.ROOT).replace('-', '_');
    }

    @Override
    public String defaultValue(ArgSpec arg) {
        if (!(arg instanceof OptionSpec option) || option.usageHelp() || option.versionHelp()) {
            return null;
        }
        String value = env.get(envName(option.longestName()));
        if (value == null || value.isBlank()) {
            return null;
        }
        if (!option.isMultiValue()) {
            return value.trim();
        }
        List<String> items = new ArrayList<>();
        for (String item : value.split(",")) {
            if (!item.isBlank()) {
                items.add(item.trim());
            }
        }
        return items.isEmpty() ? null : String.join(",", items);
    }
}

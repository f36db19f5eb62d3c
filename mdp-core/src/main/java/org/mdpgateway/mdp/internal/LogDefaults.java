package org.mdpgateway.mdp.internal;

/**
 * Operator-friendly defaults for slf4j-simple in the runnable applications: timestamps, short
 * logger names, INFO for our own loggers. Any setting given with -D wins.
 */
public final class LogDefaults {
    /**
     * The level of the gateway's access log, one line per HTTP request: per-request detail, so off
     * ("warn") unless asked for with {@code --access-log}.
     */
    public static final String ACCESS_LOG_LEVEL = "org.slf4j.simpleLogger.log.mdp-gateway.access";

    private LogDefaults() {}

    /** Call before the first logger is created. */
    public static void apply() {
        setIfAbsent("org.slf4j.simpleLogger.defaultLogLevel", "info");
        setIfAbsent("org.slf4j.simpleLogger.showDateTime", "true");
        setIfAbsent("org.slf4j.simpleLogger.dateTimeFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSZ");
        setIfAbsent("org.slf4j.simpleLogger.showShortLogName", "true");
        // The HTTP server's own start-up chatter; the gateway logs its one line per lifecycle event.
        setIfAbsent("org.slf4j.simpleLogger.log.org.eclipse.jetty", "warn");
        setIfAbsent("org.slf4j.simpleLogger.log.io.javalin", "warn");
        setIfAbsent(ACCESS_LOG_LEVEL, "warn");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }
}

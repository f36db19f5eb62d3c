package org.mdpgateway.gateway;

import io.javalin.config.JavalinConfig;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * HTTPS on the HTTP port, and optionally a plain port that only redirects to it. Javalin adds its own
 * plain connector only when no other is configured, so with this one registered first the HTTP port
 * speaks TLS alone, and {@code app.port()} (the first connector's) is the HTTPS port. HTTP/1.1 only,
 * as on the plain port, so chunked, NDJSON and SSE replies stream the same way.
 *
 * <p>The connectors are made on the thread that starts the server and then belong to Jetty; the
 * redirect handler only reads them, on Jetty's threads, once the server has started.
 */
final class TlsConnector {
    private final TlsSettings tls;
    private final String host;
    private final int port;
    private final int redirectPort;
    private volatile ServerConnector https;
    private volatile ServerConnector redirect;

    /**
     * @param redirectPort the plain port that redirects, 0 for any free one, or
     *     {@link GatewayConfig#NO_REDIRECT}
     */
    TlsConnector(TlsSettings tls, String host, int port, int redirectPort) {
        this.tls = tls;
        this.host = host;
        this.port = port;
        this.redirectPort = redirectPort;
    }

    void register(JavalinConfig javalin) {
        javalin.jetty.addConnector((server, http) -> https = httpsConnector(server, http));
        if (redirectPort != GatewayConfig.NO_REDIRECT) {
            javalin.jetty.addConnector((server, http) -> redirect = plainConnector(server, http));
            javalin.jetty.modifyServer(server -> server.insertHandler(new RedirectToHttps()));
        }
    }

    /** The redirecting port once started, or -1 when there is none. */
    int redirectPort() {
        ServerConnector r = redirect;
        return r == null ? -1 : r.getLocalPort();
    }

    private ServerConnector httpsConnector(Server server, HttpConfiguration base) {
        SslContextFactory.Server ssl = new SslContextFactory.Server();
        ssl.setKeyStore(tls.keyStore());
        ssl.setKeyStorePassword(tls.password());
        ssl.setKeyManagerPassword(tls.password());
        HttpConfiguration config = new HttpConfiguration(base);
        // Marks requests secure and checks the SNI host against the certificate (RFC 6066 §3).
        config.addCustomizer(new SecureRequestCustomizer());
        ServerConnector connector = new ServerConnector(server,
                new SslConnectionFactory(ssl, HttpVersion.HTTP_1_1.asString()), new HttpConnectionFactory(config));
        connector.setName("https"); // the connector.name tag of its metrics, unique per connector
        connector.setHost(host);
        connector.setPort(port);
        return connector;
    }

    private ServerConnector plainConnector(Server server, HttpConfiguration base) {
        ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(new HttpConfiguration(base)));
        connector.setName("http-redirect");
        connector.setHost(host);
        connector.setPort(redirectPort);
        return connector;
    }

    /**
     * Answers every request on the plain port with 308 to the same URL over https (RFC 9110 §15.4.9:
     * 308 keeps the method and body, so a POST is not turned into a GET). Nothing is served in plain text.
     */
    private final class RedirectToHttps extends Handler.Wrapper {
        @Override
        public boolean handle(Request request, Response response, Callback callback) throws Exception {
            if (request.getConnectionMetaData().getConnector() != redirect) {
                return super.handle(request, response, callback);
            }
            String location = HttpURI.build(request.getHttpURI()).scheme("https")
                    .host(Request.getServerName(request)).port(https.getLocalPort()).asString();
            response.setStatus(308);
            response.getHeaders().put(HttpHeader.LOCATION, location);
            response.getHeaders().put(HttpHeader.CONTENT_LENGTH, 0);
            response.write(true, null, callback);
            return true;
        }
    }
}

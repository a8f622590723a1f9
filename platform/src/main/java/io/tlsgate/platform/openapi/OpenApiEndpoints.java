package io.tlsgate.platform.openapi;

import io.smallrye.openapi.api.SmallRyeOpenAPI;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.Router;
import io.vertx.ext.web.RoutingContext;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URL;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import org.eclipse.microprofile.config.ConfigProvider;
import org.eclipse.microprofile.openapi.OASFactory;
import org.eclipse.microprofile.openapi.models.OpenAPI;
import org.eclipse.microprofile.openapi.models.security.SecurityScheme;
import org.jboss.jandex.CompositeIndex;
import org.jboss.jandex.IndexReader;
import org.jboss.jandex.IndexView;

/**
 * {@code GET /q/openapi} (YAML, or JSON with {@code ?format=json} or {@code Accept:
 * application/json}) and the Swagger UI at {@code /q/swagger-ui/}, both open like the health
 * checks. The document is generated once, on first request, by SmallRye OpenAPI from the
 * Jandex indexes the build writes into the service and platform jars.
 */
@ApplicationScoped
public class OpenApiEndpoints {

    static final String OPENAPI = "/q/openapi";
    static final String SWAGGER = "/q/swagger-ui";
    private static final String WEBJAR = "META-INF/resources/webjars/swagger-ui/";
    private static final Pattern FILE = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*");
    private static final Map<String, String> TYPES = Map.of(
            "js", "application/javascript", "css", "text/css", "png", "image/png", "html", "text/html; charset=utf-8");

    private volatile SmallRyeOpenAPI document;

    void routes(@Observes Router router) {
        router.get(OPENAPI).blockingHandler(this::openapi);
        // Vert.x matches the path with and without the trailing slash; the page's relative
        // links need the slash.
        router.get(SWAGGER).handler(ctx -> {
            if (ctx.request().path().endsWith("/")) {
                ctx.response().putHeader("Content-Type", TYPES.get("html")).end(swaggerPage());
            } else {
                ctx.redirect(SWAGGER + "/");
            }
        });
        router.get(SWAGGER + "/:file").blockingHandler(this::swaggerFile);
    }

    private void openapi(RoutingContext ctx) {
        SmallRyeOpenAPI doc = document();
        String accept = ctx.request().getHeader("Accept");
        boolean json = "json".equals(ctx.request().getParam("format"))
                || (accept != null && accept.contains("application/json"));
        ctx.response()
                .putHeader("Content-Type", json ? "application/json" : "application/yaml")
                .end(json ? doc.toJSON() : doc.toYAML());
    }

    private SmallRyeOpenAPI document() {
        SmallRyeOpenAPI d = document;
        if (d == null) {
            synchronized (this) {
                if (document == null) {
                    document = build();
                }
                d = document;
            }
        }
        return d;
    }

    private static SmallRyeOpenAPI build() {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        String title = ConfigProvider.getConfig().getOptionalValue("quarkus.application.name", String.class)
                .map(n -> "tlsgate " + n).orElse("tlsgate");
        OpenAPI initial = OASFactory.createOpenAPI()
                .openapi("3.1.0")
                .info(OASFactory.createInfo().title(title).version("v1")
                        .description("Every /api call needs 'Authorization: Bearer <token>'; see docs/security.md."))
                .components(OASFactory.createComponents().addSecurityScheme("bearer",
                        OASFactory.createSecurityScheme().type(SecurityScheme.Type.HTTP).scheme("bearer")))
                .addSecurityRequirement(OASFactory.createSecurityRequirement().addScheme("bearer"));
        return SmallRyeOpenAPI.builder()
                .withConfig(ConfigProvider.getConfig())
                .withApplicationClassLoader(cl)
                .withScannerClassLoader(cl)
                .withIndex(indexes(cl))
                .withInitialModel(initial)
                .build();
    }

    private static IndexView indexes(ClassLoader cl) {
        List<IndexView> all = new ArrayList<>();
        try {
            Enumeration<URL> urls = cl.getResources("META-INF/jandex.idx");
            while (urls.hasMoreElements()) {
                try (InputStream in = urls.nextElement().openStream()) {
                    all.add(new IndexReader(in).read());
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("could not read the Jandex indexes", e);
        }
        return CompositeIndex.create(all);
    }

    private static String swaggerPage() {
        return """
                <!DOCTYPE html>
                <html lang="en"><head><meta charset="utf-8"><title>tlsgate API</title>
                <link rel="stylesheet" href="swagger-ui.css"></head>
                <body><div id="swagger-ui"></div>
                <script src="swagger-ui-bundle.js"></script>
                <script>window.ui = SwaggerUIBundle({url: '%s?format=json', dom_id: '#swagger-ui'});</script>
                </body></html>
                """.formatted(OPENAPI);
    }

    private void swaggerFile(RoutingContext ctx) {
        String file = ctx.pathParam("file");
        String ext = file.substring(file.lastIndexOf('.') + 1);
        if (!FILE.matcher(file).matches() || !TYPES.containsKey(ext)) {
            ctx.response().setStatusCode(404).end();
            return;
        }
        try (InputStream in = Thread.currentThread().getContextClassLoader()
                .getResourceAsStream(WEBJAR + swaggerVersion() + "/" + file)) {
            if (in == null) {
                ctx.response().setStatusCode(404).end();
                return;
            }
            ctx.response().putHeader("Content-Type", TYPES.get(ext))
                    .putHeader("Cache-Control", "max-age=86400")
                    .end(Buffer.buffer(in.readAllBytes()));
        } catch (IOException e) {
            ctx.fail(e);
        }
    }

    private static String swaggerVersion() throws IOException {
        Properties p = new Properties();
        try (InputStream in = Thread.currentThread().getContextClassLoader()
                .getResourceAsStream("META-INF/maven/org.webjars/swagger-ui/pom.properties")) {
            if (in == null) {
                throw new IOException("the swagger-ui webjar is missing");
            }
            p.load(in);
        }
        return p.getProperty("version");
    }
}

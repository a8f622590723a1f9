package io.tlsgate.testkit;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasKey;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.startsWith;

import io.restassured.response.ValidatableResponse;

/**
 * The checks every service's REST API and operations endpoints must pass, run against the
 * service under test over real HTTP (RestAssured's port is the one Quarkus started on).
 */
public final class ApiChecks {

    private ApiChecks() {}

    /**
     * {@code GET path}: 401 problem+json with a Bearer challenge without a token, with a
     * malformed header and with an unknown token; 200 with {@code token}.
     */
    public static ValidatableResponse assertGetNeedsToken(String path, String token) {
        unauthorized(given().when().get(path).then());
        unauthorized(given().header("Authorization", "Basic dXNlcjpwYXNz").when().get(path).then());
        unauthorized(given().header("Authorization", TestTokens.bearer("not-a-configured-token-123")).when().get(path)
                .then());
        return given().header("Authorization", TestTokens.bearer(token)).when().get(path).then().statusCode(200);
    }

    /** {@code GET path} with {@code token}: 403 problem+json (the token is valid, its role too weak). */
    public static void assertGetForbidden(String path, String token) {
        given().header("Authorization", TestTokens.bearer(token)).when().get(path).then()
                .statusCode(403)
                .contentType("application/problem+json")
                .body("status", equalTo(403))
                .body("title", equalTo("Forbidden"));
    }

    /**
     * Health, metrics, OpenAPI and Swagger UI are open; readiness is UP and covers the
     * database and Kafka; the OpenAPI document describes {@code apiPath} with bearer auth.
     */
    public static void assertOperationsEndpoints(String apiPath) {
        given().when().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().when().get("/q/health/ready").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.name", hasItem("kafka"))
                .body("checks.find { it.name == 'kafka' }.data.broker", equalTo("reachable"))
                .body("checks.name", hasItem(startsWith("Database connections health check")));
        given().when().get("/q/metrics").then().statusCode(200).contentType(startsWith("text/plain"))
                .body(containsString("jvm_memory_used_bytes"));
        given().when().get("/q/openapi?format=json").then().statusCode(200)
                .body("openapi", startsWith("3."))
                .body("paths", hasKey(apiPath))
                .body("components.securitySchemes.bearer.scheme", equalTo("bearer"));
        given().when().get("/q/openapi").then().statusCode(200).contentType(startsWith("application/yaml"));
        given().when().get("/q/swagger-ui/").then().statusCode(200).body(containsString("swagger-ui-bundle.js"));
        given().when().get("/q/swagger-ui/swagger-ui-bundle.js").then().statusCode(200)
                .contentType(startsWith("application/javascript"));
        given().when().get("/q/swagger-ui/..%2Fpom.properties").then().statusCode(404);
    }

    private static void unauthorized(ValidatableResponse r) {
        r.statusCode(401)
                .contentType("application/problem+json")
                .header("WWW-Authenticate", startsWith("Bearer"))
                .body("status", equalTo(401));
    }
}

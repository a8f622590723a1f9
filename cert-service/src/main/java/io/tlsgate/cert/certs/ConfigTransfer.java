package io.tlsgate.cert.certs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.tlsgate.cert.trust.TrustStore;
import io.tlsgate.cert.trust.TrustedCa;
import io.tlsgate.platform.audit.AuditLog;
import io.tlsgate.platform.db.Jdbc;
import io.tlsgate.platform.problem.InvalidRequestException;
import io.tlsgate.platform.problem.Problem.FieldError;
import io.tlsgate.platform.problem.ProblemException;
import jakarta.enterprise.context.ApplicationScoped;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import javax.sql.DataSource;

/**
 * cert-service's part of the configuration, by reference (docs/certificates.md): which
 * certificate each slot serves, and which CAs are trusted, named by certificate name and
 * SHA-256 fingerprint, never with a key or a certificate. An import makes the assignments and
 * the set of trusted CAs what the document says, in one transaction: every reference must
 * resolve here (a certificate uploaded or imported beforehand, a CA added beforehand), else
 * nothing changes and every bad reference is reported.
 */
@ApplicationScoped
public class ConfigTransfer {

    public static final String FORMAT = "tlsgate-cert-config/1";
    private static final Set<String> SECTIONS = Set.of("format", "assignments", "trustedCas");

    private final DataSource dataSource;
    private final CertificateStore store;
    private final TrustStore trust;
    private final AuditLog audit;
    private final ObjectMapper json;

    ConfigTransfer(DataSource dataSource, CertificateStore store, TrustStore trust, AuditLog audit, ObjectMapper json) {
        this.dataSource = dataSource;
        this.store = store;
        this.trust = trust;
        this.audit = audit;
        this.json = json;
    }

    public ObjectNode export() {
        return Jdbc.snapshot(dataSource, c -> {
            ObjectNode o = json.createObjectNode();
            o.put("format", FORMAT);
            ArrayNode a = o.putArray("assignments");
            for (Map.Entry<String, String> e : store.assignments(c).entrySet()) {
                ObjectNode n = a.addObject().put("slot", e.getKey()).put("certificate", e.getValue());
                store.find(c, e.getValue()).ifPresent(s -> n.put("fingerprintSha256", CertificateView.fingerprint(s.leaf())));
            }
            ArrayNode t = o.putArray("trustedCas");
            for (TrustedCa ca : trust.all(c)) {
                t.addObject().put("subject", ca.subject()).put("fingerprintSha256", ca.fingerprintSha256());
            }
            return o;
        });
    }

    /** What an import did (or would do). */
    public record Result(boolean changed, int assigned, int unassigned, int unchanged, int casRemoved, int casKept) {}

    public Result importConfig(JsonNode doc, boolean validateOnly, String principal) {
        List<FieldError> errors = new ArrayList<>();
        if (!doc.isObject()) {
            throw InvalidRequestException.field("body", "must be a JSON object (what GET /api/v1/config/export returns)");
        }
        if (!FORMAT.equals(doc.path("format").asText())) {
            errors.add(new FieldError("format", "must be \"" + FORMAT + "\""));
        }
        for (Iterator<String> it = doc.fieldNames(); it.hasNext();) {
            String f = it.next();
            if (!SECTIONS.contains(f)) {
                errors.add(new FieldError(f, "unknown section"));
            }
        }
        for (String s : List.of("assignments", "trustedCas")) {
            if (doc.has(s) && !doc.get(s).isArray()) {
                errors.add(new FieldError(s, "must be an array"));
            }
        }
        if (!errors.isEmpty()) {
            throw refused(errors);
        }
        return Jdbc.transaction(dataSource, c -> {
            Map<String, String> wanted = new LinkedHashMap<>();
            if (doc.has("assignments")) {
                JsonNode list = doc.get("assignments");
                for (int i = 0; i < list.size(); i++) {
                    JsonNode a = list.get(i);
                    String where = "assignments[" + i + "]";
                    String slot = a.path("slot").asText("");
                    String name = a.path("certificate").asText("");
                    if (!Certificates.SLOT.matcher(slot).matches()) {
                        errors.add(new FieldError(where + ".slot", "must be listener:<name>, outbound or https"));
                        continue;
                    }
                    if (wanted.containsKey(slot)) {
                        errors.add(new FieldError(where + ".slot", "'" + slot + "' is given twice"));
                        continue;
                    }
                    Optional<StoredCertificate> s = Certificates.NAME.matcher(name).matches() ? store.find(c, name) : Optional.empty();
                    if (s.isEmpty()) {
                        errors.add(new FieldError(where + ".certificate", "no certificate named '" + name
                                + "' here: upload or import it first"));
                        continue;
                    }
                    String fp = CertificateView.fingerprint(s.get().leaf());
                    if (a.hasNonNull("fingerprintSha256") && !a.get("fingerprintSha256").asText().equalsIgnoreCase(fp)) {
                        errors.add(new FieldError(where + ".fingerprintSha256", "'" + name + "' here is another certificate ("
                                + fp + ")"));
                        continue;
                    }
                    if (Instant.now().isAfter(s.get().leaf().getNotAfter().toInstant())) {
                        errors.add(new FieldError(where + ".certificate", "'" + name + "' expired on "
                                + s.get().leaf().getNotAfter().toInstant()));
                        continue;
                    }
                    wanted.put(slot, name);
                }
            }
            Set<String> keepCas = new HashSet<>();
            List<TrustedCa> cas = trust.all(c);
            if (doc.has("trustedCas")) {
                Map<String, TrustedCa> byFingerprint = new HashMap<>();
                cas.forEach(ca -> byFingerprint.put(ca.fingerprintSha256().toLowerCase(java.util.Locale.ROOT), ca));
                JsonNode list = doc.get("trustedCas");
                for (int i = 0; i < list.size(); i++) {
                    String fp = list.get(i).path("fingerprintSha256").asText("").toLowerCase(java.util.Locale.ROOT);
                    if (!byFingerprint.containsKey(fp)) {
                        errors.add(new FieldError("trustedCas[" + i + "].fingerprintSha256", "no trusted CA with SHA-256 '" + fp
                                + "' here: add its certificate first (POST /api/v1/trusted-cas)"));
                    } else {
                        keepCas.add(fp);
                    }
                }
            }
            if (!errors.isEmpty()) {
                throw refused(errors);
            }
            Map<String, String> now = store.assignments(c);
            int assigned = 0;
            int unassigned = 0;
            int unchanged = 0;
            if (doc.has("assignments")) {
                for (Map.Entry<String, String> e : wanted.entrySet()) {
                    String before = now.get(e.getKey());
                    if (e.getValue().equals(before)) {
                        unchanged++;
                        continue;
                    }
                    assigned++;
                    if (!validateOnly) {
                        store.assign(c, e.getKey(), e.getValue(), principal);
                        audit.record(c, principal, "assign", "assignment:" + e.getKey(),
                                before == null ? null : Map.of("certificate", before), Map.of("certificate", e.getValue()));
                    }
                }
                for (Map.Entry<String, String> e : now.entrySet()) {
                    if (!wanted.containsKey(e.getKey())) {
                        unassigned++;
                        if (!validateOnly) {
                            store.unassign(c, e.getKey());
                            audit.record(c, principal, "unassign", "assignment:" + e.getKey(),
                                    Map.of("certificate", e.getValue()), null);
                        }
                    }
                }
            }
            int removed = 0;
            if (doc.has("trustedCas")) {
                for (TrustedCa ca : cas) {
                    if (!keepCas.contains(ca.fingerprintSha256().toLowerCase(java.util.Locale.ROOT))) {
                        removed++;
                        if (!validateOnly) {
                            trust.delete(c, ca.id());
                            audit.record(c, principal, "delete", "trusted-ca:" + ca.id(), ca, null);
                        }
                    }
                }
            }
            return new Result(!validateOnly && assigned + unassigned + removed > 0, assigned, unassigned, unchanged, removed,
                    keepCas.size());
        });
    }

    private static ProblemException refused(List<FieldError> errors) {
        return new ProblemException(400, errors.size() + " problem(s) in the import; nothing was changed", errors);
    }
}

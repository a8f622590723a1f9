package io.tlsgate.cert.certs;

import io.tlsgate.cert.web.RequestSupport;
import io.tlsgate.platform.auth.Roles;
import io.tlsgate.platform.json.JsonFields;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.PUT;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.QueryParam;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.jboss.resteasy.reactive.RestForm;
import org.jboss.resteasy.reactive.multipart.FileUpload;

/**
 * REST: certificates (generate, list, read, CSR, upload, import, export, delete). Reading needs
 * reader; uploading the CA-signed certificate for an existing key needs operator; everything
 * that creates, imports, exports or deletes a private key needs admin. The private key leaves
 * only through the admin's password-protected PKCS#12 export.
 */
@Path("/api/v1/certificates")
@Produces(MediaType.APPLICATION_JSON)
public class CertificateResource {

    private static final int MAX_BODY = 65_536;
    private static final long MAX_P12 = 1_048_576;
    private static final Set<String> FIELDS = Set.of("name", "commonName", "subjectAltNames", "organization",
            "organizationalUnit", "locality", "state", "country", "keyType", "validityDays");
    private static final Pattern DNS_NAME = Pattern.compile(
            "(\\*\\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?");
    private static final Pattern TEXT = Pattern.compile("[^\\p{Cntrl}]{1,64}");
    private static final Pattern COUNTRY = Pattern.compile("[A-Z]{2}");

    private final Certificates certificates;
    private final Diagnosis diagnosis;
    private final TrustAnchors trust;
    private final RequestSupport request;

    CertificateResource(Certificates certificates, Diagnosis diagnosis, TrustAnchors trust, RequestSupport request) {
        this.certificates = certificates;
        this.diagnosis = diagnosis;
        this.trust = trust;
        this.request = request;
    }

    @GET
    @RolesAllowed(Roles.READER)
    @Operation(summary = "All certificates with status and assignments (never private keys)")
    public List<CertificateView> list() {
        return certificates.list();
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Generate a key pair, a self-signed certificate and a CSR (admin only)")
    public Response generate(String body) {
        JsonFields f = JsonFields.of(request.json(body, MAX_BODY), FIELDS);
        String name = f.string("name", Certificates.NAME, "1 to 64 letters, digits, '.', '_' or '-'");
        String cn = f.string("commonName", DNS_NAME, "a host name such as mail.example.com");
        List<String> sans = f.list("subjectAltNames", 100, s -> {
            if (!DNS_NAME.matcher(s).matches() || s.length() > 253) {
                throw new IllegalArgumentException("must be a DNS name such as mail.example.com");
            }
            return s.toLowerCase(Locale.ROOT);
        });
        String o = f.string("organization", TEXT, "1 to 64 characters");
        String ou = f.string("organizationalUnit", TEXT, "1 to 64 characters");
        String l = f.string("locality", TEXT, "1 to 64 characters");
        String st = f.string("state", TEXT, "1 to 64 characters");
        String c = f.string("country", COUNTRY, "a two-letter upper-case ISO 3166 code such as DE");
        KeyType type = f.enumValue("keyType", KeyType.class);
        Integer days = f.integer("validityDays", 1, 3650);
        f.require("name", "commonName");
        f.check();
        Pki.Subject subject = new Pki.Subject(cn.toLowerCase(Locale.ROOT), sans == null ? List.of() : sans, o, ou, l, st, c);
        CertificateView v = certificates.generate(name, type == null ? KeyType.RSA_2048 : type, subject,
                days == null ? 365 : days, request.principal());
        return RequestSupport.created("/api/v1/certificates/" + name, v);
    }

    @GET
    @Path("/{name}")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "One certificate: subject, issuer, SANs, validity, fingerprint, key type, chain, status, slots")
    public CertificateView get(@PathParam("name") String name) {
        return certificates.get(name);
    }

    @GET
    @Path("/{name}/csr")
    @Produces("application/pkcs10")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "The certificate signing request (PEM) to send to a CA")
    public String csr(@PathParam("name") String name) {
        return certificates.csr(name);
    }

    @PUT
    @Path("/{name}/certificate")
    @Consumes({"application/x-pem-file", MediaType.TEXT_PLAIN})
    @RolesAllowed(Roles.OPERATOR)
    @Operation(summary = "Upload the CA-signed certificate (PEM) with its intermediates; checked against the stored key")
    public Certificates.Upload upload(@PathParam("name") String name, String pem) {
        return certificates.upload(name, pem, trust.anchors(), request.principal());
    }

    @POST
    @Path("/import")
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Import a key and chain from PKCS#12: form fields name, password, file (admin only)")
    public Response importPkcs12(@RestForm("name") String name, @RestForm("password") String password,
            @RestForm("file") FileUpload file) {
        JsonFields f = JsonFields.of(request.emptyObject(), Set.of());
        if (name == null || !Certificates.NAME.matcher(name).matches()) {
            f.error("name", "1 to 64 letters, digits, '.', '_' or '-'");
        }
        if (password == null) {
            f.error("password", "required (may be empty)");
        }
        byte[] bytes = null;
        if (file == null) {
            f.error("file", "required: the PKCS#12 file");
        } else {
            try {
                if (java.nio.file.Files.size(file.uploadedFile()) > MAX_P12) {
                    f.error("file", "larger than " + MAX_P12 + " bytes");
                } else {
                    bytes = java.nio.file.Files.readAllBytes(file.uploadedFile());
                }
            } catch (java.io.IOException e) {
                f.error("file", "could not be read: " + e.getMessage());
            }
        }
        f.check();
        Certificates.Upload u = certificates.importPkcs12(name, bytes, password.toCharArray(), trust.anchors(),
                request.principal());
        return RequestSupport.created("/api/v1/certificates/" + name, u);
    }

    @POST
    @Path("/{name}/export")
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces({"application/x-pkcs12", MediaType.APPLICATION_JSON})
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Download the key and chain as PKCS#12 protected by {\"password\": \"...\"} (admin only)")
    public Response exportPkcs12(@PathParam("name") String name, String body) {
        JsonFields f = JsonFields.of(request.json(body, 4096), Set.of("password"));
        String password = f.string("password", Pattern.compile("[\\x20-\\x7e]{8,128}"),
                "8 to 128 printable ASCII characters");
        f.require("password");
        f.check();
        byte[] p12 = certificates.exportPkcs12(name, password.toCharArray(), request.principal());
        return Response.ok(p12, "application/x-pkcs12")
                .header("Content-Disposition", "attachment; filename=\"" + name + ".p12\"").build();
    }

    @GET
    @Path("/{name}/diagnose")
    @RolesAllowed(Roles.READER)
    @Operation(summary = "Do the certificate's names match the listener host name and the domain's MX hosts; "
            + "days to expiry; does the chain hold together")
    public Diagnosis.Report diagnose(@PathParam("name") String name, @QueryParam("hostname") String hostname,
            @QueryParam("domain") String domain) {
        Certificates.Current c = certificates.current(name);
        return diagnosis.diagnose(c.view(), c.chain(), hostname, domain, trust.anchors());
    }

    @DELETE
    @Path("/{name}")
    @RolesAllowed(Roles.ADMIN)
    @Operation(summary = "Delete a certificate and its key (409 while assigned, and for the demo certificate; admin only)")
    public Response delete(@PathParam("name") String name) {
        certificates.delete(name, request.principal());
        return Response.noContent().build();
    }
}

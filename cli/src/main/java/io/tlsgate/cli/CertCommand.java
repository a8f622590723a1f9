package io.tlsgate.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code tlsgate cert}: certificates, keys and slot assignments in cert-service. */
@Command(name = "cert", mixinStandardHelpOptions = true,
        description = "Certificates: generate a key and CSR, upload the signed chain, import/export PKCS#12, assign to slots, diagnose.",
        subcommands = {CertCommand.ListCerts.class, CertCommand.Show.class, CertCommand.New.class, CertCommand.Csr.class,
            CertCommand.Upload.class, CertCommand.Import.class, CertCommand.Export.class, CertCommand.Assign.class,
            CertCommand.Diagnose.class})
final class CertCommand extends Group {

    static final String BASE = "/api/v1/certificates";

    static String path(String name) {
        return BASE + "/" + Api.encode(name);
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "Lists the certificates with status, expiry and slots.")
    static final class ListCerts extends ApiCommand {
        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode all = api().json(Service.CERT, "GET", BASE, null);
            if (json) {
                Values.printJson(out(), all);
                return 0;
            }
            Table t = new Table("NAME", "STATUS", "SUBJECT", "NOT AFTER", "DAYS", "KEY", "SLOTS");
            for (JsonNode c : all) {
                t.row(c.path("name").asText(), c.path("status").asText(), c.path("subject").asText(),
                        c.path("notAfter").asText(), c.path("daysToExpiry").asText(), c.path("keyType").asText(),
                        Values.text(c.path("assignedTo")));
            }
            t.print(out());
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Shows one certificate and its chain (never the key).")
    static final class Show extends ApiCommand {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode c = api().json(Service.CERT, "GET", path(name), null);
            if (json) {
                Values.printJson(out(), c);
                return 0;
            }
            printCertificate(c);
            return 0;
        }

        private void printCertificate(JsonNode c) {
            ObjectNode head = c.deepCopy();
            head.remove("chain");
            Values.printFields(out(), head);
            out().println("chain:");
            int i = 0;
            for (JsonNode e : c.path("chain")) {
                out().println("  " + i++ + " " + e.path("subject").asText());
                out().println("    issuer " + e.path("issuer").asText() + ", not after " + e.path("notAfter").asText());
                out().println("    sha256 " + e.path("fingerprintSha256").asText());
            }
            out().flush();
        }
    }

    @Command(name = "new", mixinStandardHelpOptions = true,
            description = "Generates a key pair, a self-signed certificate and a CSR (admin).")
    static final class New extends ApiCommand {
        @Parameters(paramLabel = "NAME", description = "1-64 letters, digits, '.', '_' or '-'")
        String name;

        @Option(names = "--cn", paramLabel = "HOST", required = true, description = "Common name, e.g. mail.example.com.")
        String commonName;

        @Option(names = "--san", paramLabel = "HOST", description = "A subject alternative name (repeat for more).")
        List<String> sans = new ArrayList<>();

        @Option(names = "--org", paramLabel = "TEXT")
        String organization;

        @Option(names = "--ou", paramLabel = "TEXT")
        String organizationalUnit;

        @Option(names = "--locality", paramLabel = "TEXT")
        String locality;

        @Option(names = "--state", paramLabel = "TEXT")
        String state;

        @Option(names = "--country", paramLabel = "CC", description = "Two upper-case letters, e.g. DE.")
        String country;

        @Option(names = "--key-type", paramLabel = "TYPE", completionCandidates = KeyTypes.class,
                description = "${COMPLETION-CANDIDATES} (default RSA_2048).")
        String keyType;

        @Option(names = "--days", paramLabel = "N", description = "Validity in days, 1-3650 (default 365).")
        Integer days;

        @Override
        public Integer call() {
            ObjectNode b = Api.object();
            b.put("name", name);
            b.put("commonName", commonName);
            if (!sans.isEmpty()) {
                sans.forEach(b.putArray("subjectAltNames")::add);
            }
            put(b, "organization", organization);
            put(b, "organizationalUnit", organizationalUnit);
            put(b, "locality", locality);
            put(b, "state", state);
            put(b, "country", country);
            put(b, "keyType", keyType);
            if (days != null) {
                b.put("validityDays", days);
            }
            JsonNode c = api().json(Service.CERT, "POST", BASE, b);
            out().println("created " + c.path("name").asText() + " (" + c.path("status").asText() + ", "
                    + c.path("keyType").asText() + "); its CSR: tlsgate cert csr " + c.path("name").asText());
            out().flush();
            return 0;
        }

        private static void put(ObjectNode b, String field, String v) {
            if (v != null) {
                b.put(field, v);
            }
        }
    }

    static final class KeyTypes extends ArrayList<String> {
        KeyTypes() {
            super(List.of("RSA_2048", "RSA_3072", "RSA_4096", "EC_P256", "EC_P384"));
        }
    }

    @Command(name = "csr", mixinStandardHelpOptions = true, description = "Prints the certificate signing request (PEM) to send to a CA.")
    static final class Csr extends ApiCommand {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", description = "Write to FILE instead of standard output.")
        Path output;

        @Override
        public Integer call() {
            byte[] pem = api().send(Service.CERT, "GET", path(name) + "/csr", null, null, "application/pkcs10", Map.of()).body();
            if (output != null) {
                Values.write(output, pem);
                err().println("wrote " + output);
                err().flush();
            } else {
                out().print(new String(pem, StandardCharsets.UTF_8));
                out().flush();
            }
            return 0;
        }
    }

    @Command(name = "upload", mixinStandardHelpOptions = true,
            description = "Uploads the CA-signed certificate (PEM) with its intermediates, in any order (operator).")
    static final class Upload extends ApiCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "FILE", description = "PEM file, or - for standard input")
        String file;

        @Override
        public Integer call() {
            byte[] pem = Values.read(file);
            JsonNode r = api().send(Service.CERT, "PUT", path(name) + "/certificate", "application/x-pem-file", pem,
                    "application/json", Map.of()).json();
            printUploaded(this, r);
            return 0;
        }
    }

    static void printUploaded(ApiCommand c, JsonNode r) {
        JsonNode cert = r.path("certificate");
        c.out().println(cert.path("name").asText() + ": " + cert.path("status").asText() + ", " + cert.path("subject").asText()
                + ", not after " + cert.path("notAfter").asText() + ", chain of " + cert.path("chain").size());
        for (JsonNode w : r.path("warnings")) {
            c.out().println("warning: " + w.asText());
        }
        c.out().flush();
    }

    /** A password from a file or typed at a prompt (never echoed). */
    static final class Password {
        @Option(names = "--password-file", paramLabel = "FILE", required = true,
                description = "File whose first line is the password.")
        Path file;

        @Option(names = "--password", interactive = true, required = true, description = "Type the password at a prompt.")
        char[] typed;

        String value() {
            if (typed != null) {
                return new String(typed);
            }
            String s = new String(Values.read(file.toString()), StandardCharsets.UTF_8);
            int nl = s.indexOf('\n');
            return (nl < 0 ? s : s.substring(0, nl)).replace("\r", "");
        }
    }

    @Command(name = "import", mixinStandardHelpOptions = true,
            description = "Imports a key with its certificate and intermediates from a PKCS#12 file (admin).")
    static final class Import extends ApiCommand {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        @Parameters(index = "1", paramLabel = "FILE", description = "The .p12/.pfx file")
        String file;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Password password;

        @Override
        public Integer call() {
            byte[] p12 = Values.read(file);
            String boundary = "tlsgate-" + UUID.randomUUID();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            part(b, boundary, "name", null, name.getBytes(StandardCharsets.UTF_8));
            part(b, boundary, "password", null, password.value().getBytes(StandardCharsets.UTF_8));
            part(b, boundary, "file", Path.of(file).getFileName().toString(), p12);
            b.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.US_ASCII));
            JsonNode r = api().send(Service.CERT, "POST", BASE + "/import", "multipart/form-data; boundary=" + boundary,
                    b.toByteArray(), "application/json", Map.of()).json();
            printUploaded(this, r);
            return 0;
        }

        private static void part(ByteArrayOutputStream b, String boundary, String field, String filename, byte[] value) {
            StringBuilder h = new StringBuilder("--").append(boundary).append("\r\nContent-Disposition: form-data; name=\"")
                    .append(field).append('"');
            if (filename != null) {
                h.append("; filename=\"").append(filename.replace("\"", "")).append("\"\r\nContent-Type: application/x-pkcs12");
            }
            h.append("\r\n\r\n");
            b.writeBytes(h.toString().getBytes(StandardCharsets.UTF_8));
            b.writeBytes(value);
            b.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
        }
    }

    @Command(name = "export", mixinStandardHelpOptions = true,
            description = "Exports the key and chain as PKCS#12, protected by a password of 8-128 characters (admin).")
    static final class Export extends ApiCommand {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = {"-o", "--output"}, paramLabel = "FILE", required = true, description = "Where to write the .p12 file.")
        Path output;

        @ArgGroup(exclusive = true, multiplicity = "1")
        Password password;

        @Override
        public Integer call() {
            ObjectNode b = Api.object();
            b.put("password", password.value());
            byte[] p12 = api().send(Service.CERT, "POST", path(name) + "/export", "application/json", Api.bytes(b),
                    "application/x-pkcs12, application/problem+json", Map.of()).body();
            Values.write(output, p12);
            out().println("wrote " + output + " (" + p12.length + " bytes, PKCS#12)");
            out().flush();
            return 0;
        }
    }

    @Command(name = "assign", mixinStandardHelpOptions = true,
            description = {"Assigns a certificate to slots (listener:<name>, outbound, https) (operator).",
                "Without arguments: lists the slots. With --clear: the slots serve the demo certificate again."})
    static final class Assign extends ApiCommand {
        @Parameters(paramLabel = "NAME SLOT...", arity = "0..*", description = "The certificate, then one or more slots")
        List<String> args = new ArrayList<>();

        @Option(names = "--clear", paramLabel = "SLOT", description = "Remove the slot's assignment (repeat for more).")
        List<String> clear = new ArrayList<>();

        @Option(names = "--json", description = "The slots as JSON.")
        boolean json;

        @Override
        public Integer call() {
            if (!clear.isEmpty() && !args.isEmpty()) {
                throw CliException.usage("give either NAME SLOT... or --clear SLOT, not both");
            }
            if (args.size() == 1) {
                throw CliException.usage("name the slots to assign " + args.get(0) + " to (listener:<name>, outbound, https)");
            }
            for (String slot : clear) {
                JsonNode a = api().send(Service.CERT, "DELETE", "/api/v1/assignments/" + Api.encode(slot), null, null,
                        "application/json", Map.of()).json();
                out().println(slot + ": unassigned; serves " + a.path("certificate").asText());
            }
            if (args.size() >= 2) {
                ObjectNode b = Api.object();
                b.put("certificate", args.get(0));
                for (String slot : args.subList(1, args.size())) {
                    api().json(Service.CERT, "PUT", "/api/v1/assignments/" + Api.encode(slot), b);
                    out().println(slot + ": " + args.get(0));
                }
            }
            if (args.isEmpty() && clear.isEmpty()) {
                JsonNode all = api().json(Service.CERT, "GET", "/api/v1/assignments", null);
                if (json) {
                    Values.printJson(out(), all);
                    return 0;
                }
                Table t = new Table("SLOT", "CERTIFICATE", "ASSIGNED", "NOTE");
                for (JsonNode a : all) {
                    t.row(a.path("slot").asText(), a.path("certificate").asText(), a.path("assigned").asBoolean() ? "yes" : "no (demo)",
                            a.path("note").isNull() ? "" : a.path("note").asText());
                }
                t.print(out());
            }
            out().flush();
            return 0;
        }
    }

    @Command(name = "diagnose", mixinStandardHelpOptions = true,
            description = "Do the certificate's names match the listener host name and the domain's MX hosts; expiry; chain.")
    static final class Diagnose extends ApiCommand {
        @Parameters(paramLabel = "NAME")
        String name;

        @Option(names = "--hostname", paramLabel = "HOST", description = "The listener's host name.")
        String hostname;

        @Option(names = "--domain", paramLabel = "DOMAIN", description = "A domain whose MX hosts it should name.")
        String domain;

        @Option(names = "--json", description = "The API's answer as JSON.")
        boolean json;

        @Override
        public Integer call() {
            JsonNode r = api().json(Service.CERT, "GET", path(name) + "/diagnose" + Api.query("hostname", hostname, "domain", domain),
                    null);
            if (json) {
                Values.printJson(out(), r);
                return 0;
            }
            out().println("certificate: " + r.path("certificate").asText() + " (" + r.path("status").asText() + ")");
            out().println("names:       " + Values.text(r.path("names")));
            out().println("expires in:  " + r.path("daysToExpiry").asLong() + " days");
            out().println("chain:       " + r.path("chain").asText());
            if (r.hasNonNull("hostname")) {
                JsonNode h = r.get("hostname");
                out().println("hostname:    " + h.path("name").asText() + " " + (h.path("matches").asBoolean()
                        ? "matches (" + h.path("matchedBy").asText() + ")" : "does not match"));
            }
            if (r.hasNonNull("domain")) {
                JsonNode d = r.get("domain");
                out().println("domain:      " + d.path("domain").asText() + (d.hasNonNull("note") ? " (" + d.get("note").asText() + ")" : ""));
                for (JsonNode mx : d.path("mx")) {
                    out().println("  MX " + mx.path("preference").asText() + " " + mx.path("name").asText() + " "
                            + (mx.path("matches").asBoolean() ? "matches (" + mx.path("matchedBy").asText() + ")" : "does not match"));
                }
            }
            if (r.path("problems").isEmpty()) {
                out().println("problems:    none");
            } else {
                out().println("problems:");
                r.path("problems").forEach(p -> out().println("  - " + p.asText()));
            }
            out().flush();
            return 0;
        }
    }
}

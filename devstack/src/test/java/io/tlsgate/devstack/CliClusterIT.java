package io.tlsgate.devstack;

import static io.tlsgate.devstack.DeliveryCluster.api;
import static io.tlsgate.devstack.DeliveryCluster.dns;
import static io.tlsgate.devstack.DeliveryCluster.domain;
import static io.tlsgate.devstack.DeliveryCluster.peerAddress;
import static io.tlsgate.devstack.DeliveryCluster.root;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.tlsgate.testkit.TestPki;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * The {@code tlsgate} command line end to end: {@code bin/tlsgate} (the runnable jar the build
 * makes) as a separate process against the {@link DeliveryCluster}'s running services, with the
 * settings devstack writes ({@code cli.properties}). Each subcommand's output and exit code,
 * bad input included.
 */
@ExtendWith(DeliveryCluster.Shared.class)
class CliClusterIT {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static Path repo;
    private static Path work;

    @BeforeAll
    static void paths() throws Exception {
        repo = Path.of(System.getProperty("tlsgate.root", "..")).toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(repo.resolve("cli/target/tlsgate.jar")),
                "cli/target/tlsgate.jar is missing: build the cli module first (./mvnw -pl cli package)");
        work = Files.createTempDirectory("tlsgate-cli-it-");
    }

    /** One run of bin/tlsgate. */
    record Run(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }

        /** The rows of a printed table, cells split where two or more spaces separate them. */
        List<List<String>> table(String firstHeader) {
            List<List<String>> rows = new ArrayList<>();
            boolean in = false;
            for (String line : out.split("\n")) {
                if (line.startsWith(firstHeader + " ")) {
                    in = true;
                } else if (in && line.isBlank()) {
                    break;
                }
                if (in) {
                    rows.add(Arrays.asList(line.strip().split("\\s{2,}")));
                }
            }
            return rows;
        }
    }

    private static Run tlsgate(String... args) throws Exception {
        return tlsgate(Map.of(), args);
    }

    private static Run tlsgate(Map<String, String> env, String... args) throws Exception {
        List<String> command = new ArrayList<>(List.of(repo.resolve("bin/tlsgate").toString()));
        command.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(command).directory(work.toFile());
        Map<String, String> e = pb.environment();
        e.keySet().removeIf(k -> k.startsWith("TLSGATE_"));
        // Not the user's own configuration: devstack's for this cluster.
        e.put("HOME", work.toString());
        e.put("TLSGATE_CONFIG", api().data().resolve("cli.properties").toString());
        e.putAll(env);
        Path out = Files.createTempFile(work, "out", ".txt");
        Path err = Files.createTempFile(work, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).redirectInput(ProcessBuilder.Redirect.PIPE).start();
        p.getOutputStream().close();
        assertTrue(p.waitFor(180, TimeUnit.SECONDS), "tlsgate " + String.join(" ", args) + " did not end in 180 s");
        return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
    }

    private static Run expect(int exit, String... args) throws Exception {
        Run r = tlsgate(args);
        assertEquals(exit, r.exit(), "tlsgate " + String.join(" ", args) + "\n" + r);
        return r;
    }

    /** The whole configuration out and back through the command line: checked, imported, a bad document refused naming its item. */
    @Test
    void configExportsChecksAndImports() throws Exception {
        Path policy = work.resolve("policy-config.json");
        expect(0, "config", "export", "-o", policy.toString());
        assertTrue(Files.readString(policy).contains("\"format\":\"tlsgate-policy-config/1\""), Files.readString(policy));
        Run checked = expect(0, "config", "import", policy.toString(), "--validate-only");
        assertTrue(checked.out().contains("destinations") && checked.out().endsWith("checked: nothing was changed\n"), checked.toString());
        Run imported = expect(0, "config", "import", policy.toString(), "--comment", "cli round trip");
        assertTrue(imported.out().endsWith("imported\n") || imported.out().endsWith("imported: nothing needed changing\n"),
                imported.toString());
        Path cert = work.resolve("cert-config.json");
        expect(0, "config", "export", "--part", "cert", "-o", cert.toString());
        Run certChecked = expect(0, "config", "import", "--part", "cert", cert.toString(), "--validate-only");
        assertTrue(certChecked.out().contains("0 unassigned") && certChecked.out().contains("0 removed"), certChecked.toString());
        Path bad = Files.writeString(work.resolve("bad-config.json"), Files.readString(policy)
                .replaceFirst("\"bounceProfiles\":\\[", "\"bounceProfiles\":[{\"name\":\"cli-bad\",\"maxRetries\":-1},"));
        Run refused = expect(1, "config", "import", bad.toString());
        assertTrue(refused.err().contains("bounceProfiles[cli-bad]"), refused.toString());
    }

    @Test
    void helpForEveryCommandUsageErrorsAndExitCodes() throws Exception {
        Run top = expect(0, "--help");
        for (String c : List.of("check", "dest", "cert", "queue", "config", "completion")) {
            assertTrue(top.out().contains("  " + c + " "), c + " listed\n" + top);
        }
        assertTrue(top.out().contains("Exit codes:") && top.out().contains("4   check: no host would take the mail"), top.toString());
        List<String> failures = new ArrayList<>();
        for (String[] c : new String[][] {{"check"}, {"dest", "list"}, {"dest", "show"}, {"dest", "new"}, {"dest", "edit"},
            {"dest", "delete"}, {"dest", "resolve"}, {"dest", "import"}, {"dest", "export"}, {"cert", "list"}, {"cert", "show"},
            {"cert", "new"}, {"cert", "csr"}, {"cert", "upload"}, {"cert", "import"}, {"cert", "export"}, {"cert", "assign"},
            {"cert", "diagnose"}, {"queue", "show"}, {"queue", "retry"}, {"queue", "delete"}, {"queue", "bounce"}, {"queue", "redirect"},
            {"queue", "actions"}, {"config", "export"}, {"config", "import"}, {"completion"}}) {
            List<String> args = new ArrayList<>(List.of(c));
            args.add("--help");
            Run r = tlsgate(args.toArray(String[]::new));
            if (r.exit() != 0 || !r.out().startsWith("Usage: tlsgate " + String.join(" ", c))) {
                failures.add(String.join(" ", c) + ": " + r);
            }
        }
        assertTrue(failures.isEmpty(), String.join("\n", failures));

        Run none = expect(2, "dest");
        assertTrue(none.err().contains("name one of its commands: list, show, new, edit, delete, resolve, import, export"), none.toString());
        Run missing = expect(2, "dest", "show");
        assertTrue(missing.err().contains("Missing required parameter: 'KEY'") && missing.err().contains("tlsgate dest show --help"),
                missing.toString());
        expect(2, "nope");
        Run edit = expect(2, "dest", "edit", "example.test");
        assertTrue(edit.err().contains("nothing to change"), edit.toString());
        Run noFile = expect(2, "dest", "import", work.resolve("absent.ini").toString());
        assertTrue(noFile.err().contains("absent.ini: no such file"), noFile.toString());

        // Unreachable service, bad token, missing token, missing configuration file.
        Run down = expect(3, "dest", "list", "--policy-url", "https://localhost:1");
        assertTrue(down.err().contains("cannot reach policy-service at https://localhost:1: connection refused"), down.toString());
        Run broken = expect(2, "dest", "list", "--token", "secret-part\nrest");
        assertTrue(broken.err().contains("the API token holds characters a header cannot carry") && !broken.err().contains("secret-part"),
                "a clear error that never prints the token: " + broken);
        Run token = expect(1, "dest", "list", "--token", "not-a-token");
        assertTrue(token.err().contains("policy-service answered 401"), token.toString());
        Run noToken = tlsgate(Map.of("TLSGATE_CONFIG", work.resolve("none.properties").toString()), "dest", "list");
        assertEquals(2, noToken.exit(), noToken.toString());
        assertTrue(noToken.err().contains("configuration file") && noToken.err().contains("does not exist"), noToken.toString());
        Path empty = Files.writeString(work.resolve("empty.properties"), "# nothing\n");
        Run noTok = tlsgate(Map.of("TLSGATE_CONFIG", empty.toString()), "dest", "list");
        assertEquals(2, noTok.exit(), noTok.toString());
        assertTrue(noTok.err().contains("no API token"), noTok.toString());
        // Settings from the environment win over the file: an untrusted CA is refused.
        Path otherCa = Files.writeString(work.resolve("other-ca.pem"),
                TestPki.pem(TestPki.selfSignedCa("Not The REST CA", Duration.ofDays(1)).certificate()));
        Run untrusted = tlsgate(Map.of("TLSGATE_CACERT", otherCa.toString()), "dest", "list");
        assertEquals(3, untrusted.exit(), untrusted.toString());
        assertTrue(untrusted.err().contains("TLS to policy-service at https://localhost:"), untrusted.toString());
    }

    @Test
    void destinationControlsFromNewToDelete() throws Exception {
        Run created = expect(0, "dest", "new", "cli-partner.test", "--tls", "REQUIRED_VERIFY", "--recipient-limit", "100/60",
                "--bounce-verification", "on", "--comment", "created by CliClusterIT");
        assertTrue(created.out().startsWith("created cli-partner.test\n"), created.toString());
        assertTrue(created.out().contains("tls:") && created.out().contains("REQUIRED_VERIFY"), created.toString());

        Run list = expect(0, "dest", "list");
        List<List<String>> rows = list.table("DOMAIN");
        assertEquals(List.of("DOMAIN", "RATE LIMITING", "TLS", "BOUNCE VERIFICATION", "BOUNCE PROFILE", "IP VERSION PREFERENCE"),
                rows.get(0), list.toString());
        assertTrue(rows.contains(List.of("cli-partner.test", "100 per 60 min", "REQUIRED_VERIFY", "On", "Default", "Default")),
                list.toString());
        assertTrue(rows.contains(List.of("(Default)", "Off", "NONE", "Off", "default", "Prefer IPv6")), list.toString());
        assertTrue(rows.contains(List.of(".required-verify.test", "Default", "REQUIRED_VERIFY", "Default", "it", "Default")),
                list.toString());
        JsonNode listed = JSON.readTree(expect(0, "dest", "list", "--json").out());
        assertTrue(listed.isArray() && listed.size() == rows.size() - 1, "one JSON row per table row");

        // edit keeps the fields it does not name.
        expect(0, "dest", "edit", "cli-partner.test", "--tls", "PREFERRED", "--max-concurrency", "20");
        JsonNode shown = JSON.readTree(expect(0, "dest", "show", "cli-partner.test", "--json").out());
        assertEquals("PREFERRED", shown.get("tls").asText());
        assertEquals(20, shown.get("maxConcurrentConnections").asInt());
        assertEquals(100, shown.at("/recipientLimit/recipients").asInt());
        assertTrue(shown.get("bounceVerification").asBoolean());
        Run show = expect(0, "dest", "show", "cli-partner.test");
        assertTrue(show.out().contains("maxConcurrentConnections: 20") && show.out().contains("100 per 60 min"), show.toString());

        Run resolve = expect(0, "dest", "resolve", "cli-partner.test", "--ip", "192.0.2.7");
        assertTrue(resolve.out().startsWith("matched: cli-partner.test\n"), resolve.toString());
        List<List<String>> effective = resolve.table("FIELD");
        assertTrue(effective.contains(List.of("tls", "PREFERRED", "cli-partner.test")), resolve.toString());
        assertTrue(effective.contains(List.of("maxMessagesPerConnection", "50", "default")), resolve.toString());

        // Refused input: each field named, nothing created.
        Run bad = expect(1, "dest", "new", "cli-bad.test", "--tls", "BOGUS", "--max-concurrency", "5000");
        assertTrue(bad.err().contains("policy-service answered 400 Bad Request"), bad.toString());
        assertTrue(bad.err().contains("  tls: 'BOGUS' is not one of"), bad.toString());
        assertTrue(bad.err().contains("  maxConcurrentConnections: must be between 1 and 1000"), bad.toString());
        Run absent = expect(1, "dest", "show", "cli-bad.test");
        assertTrue(absent.err().contains("answered 404"), absent.toString());
        Run badKey = expect(1, "dest", "new", "bad..key");
        assertTrue(badKey.err().contains("  key: "), badKey.toString());
        Run dup = expect(1, "dest", "new", "cli-partner.test");
        assertTrue(dup.err().contains("answered 409"), dup.toString());

        // export, then import of the same file (round trip), and a bad file refused whole.
        Path ini = work.resolve("destinations.ini");
        Run export = expect(0, "dest", "export", "-o", ini.toString());
        assertTrue(export.err().contains("wrote " + ini), export.toString());
        String text = Files.readString(ini);
        assertTrue(text.contains("[cli-partner.test]\ntls = PREFERRED\n"), text);
        assertEquals(text, expect(0, "dest", "export").out());
        Run imported = expect(0, "dest", "import", ini.toString(), "--comment", "round trip");
        assertTrue(imported.out().matches("imported " + (rows.size() - 1) + " entries \\(policy version \\d+\\)\n"), imported.toString());
        assertEquals(text, expect(0, "dest", "export").out(), "import of the export changes nothing");
        Path broken = Files.writeString(work.resolve("broken.ini"), "[DEFAULT]\ntls = SOMETIMES\n[x.test]\nmax_host_concurrency = 0\n");
        Run refused = expect(1, "dest", "import", broken.toString());
        assertTrue(refused.err().contains("2 bad line(s); nothing was changed"), refused.toString());
        assertTrue(refused.err().contains("  line 2: ") && refused.err().contains("  line 4: "), refused.toString());
        assertEquals(text, expect(0, "dest", "export").out(), "a refused import changes nothing");

        Run both = expect(2, "dest", "delete", "--all", "cli-partner.test");
        assertTrue(both.err().contains("not both"), both.toString());
        Run deleted = expect(0, "dest", "delete", "cli-partner.test");
        assertEquals("deleted cli-partner.test\n", deleted.out());
        expect(1, "dest", "show", "cli-partner.test");
        Run dflt = expect(1, "dest", "delete", "default");
        assertTrue(dflt.err().contains("answered 409"), dflt.toString());
    }

    @Test
    void certificatesFromKeyToAssignmentAndBack() throws Exception {
        Run created = expect(0, "cert", "new", "cli-mail", "--cn", "mail.cli.test", "--san", "mx1.cli.test", "--key-type", "EC_P256",
                "--days", "30", "--org", "CLI Test");
        assertTrue(created.out().startsWith("created cli-mail (SELF_SIGNED, EC-256)"), created.toString());
        Run list = expect(0, "cert", "list");
        List<List<String>> rows = list.table("NAME");
        assertEquals(List.of("NAME", "STATUS", "SUBJECT", "NOT AFTER", "DAYS", "KEY", "SLOTS"), rows.get(0), list.toString());
        assertTrue(rows.stream().anyMatch(r -> r.get(0).equals("cli-mail") && r.get(1).equals("SELF_SIGNED")
                && r.get(2).contains("CN=mail.cli.test") && r.get(5).equals("EC-256") && r.get(6).equals("-")), list.toString());

        Path csr = work.resolve("cli-mail.csr");
        expect(0, "cert", "csr", "cli-mail", "-o", csr.toString());
        String csrPem = Files.readString(csr);
        assertTrue(csrPem.startsWith("-----BEGIN CERTIFICATE REQUEST-----"), csrPem);
        assertEquals(csrPem, expect(0, "cert", "csr", "cli-mail").out());

        // Signed by the cluster's trusted root, uploaded as a chain.
        java.security.cert.X509Certificate signed = TestPki.issue(root(), TestPki.csrPublicKey(csrPem),
                TestPki.Spec.server("mail.cli.test", "mail.cli.test", "mx1.cli.test"));
        Path chain = Files.writeString(work.resolve("cli-mail.pem"), TestPki.pem(signed) + TestPki.pem(root().certificate()));
        Run upload = expect(0, "cert", "upload", "cli-mail", chain.toString());
        assertTrue(upload.out().startsWith("cli-mail: CA_SIGNED, "), upload.toString());
        Path garbage = Files.writeString(work.resolve("garbage.pem"), "not a certificate\n");
        Run badUpload = expect(1, "cert", "upload", "cli-mail", garbage.toString());
        assertTrue(badUpload.err().contains("  pem: no certificate found") || badUpload.err().contains("  pem: not PEM"),
                badUpload.toString());

        Run show = expect(0, "cert", "show", "cli-mail");
        assertTrue(show.out().contains("status:") && show.out().contains("CA_SIGNED"), show.toString());
        assertTrue(show.out().contains("chain:\n  0 CN=mail.cli.test") && show.out().contains("  1 CN=Cluster IT Peers Root"),
                show.toString());

        Run assigned = expect(0, "cert", "assign", "cli-mail", "listener:inbound");
        assertEquals("listener:inbound: cli-mail\n", assigned.out());
        Run slots = expect(0, "cert", "assign");
        assertTrue(slots.table("SLOT").contains(List.of("listener:inbound", "cli-mail", "yes")), slots.toString());
        assertTrue(expect(0, "cert", "list").out().lines().anyMatch(l -> l.startsWith("cli-mail ") && l.endsWith("listener:inbound")));
        Run badSlot = expect(1, "cert", "assign", "cli-mail", "nowhere");
        assertTrue(badSlot.err().contains("answered 400"), badSlot.toString());
        Run cleared = expect(0, "cert", "assign", "--clear", "listener:inbound");
        assertEquals("listener:inbound: unassigned; serves demo\n", cleared.out());

        Run diagnose = expect(0, "cert", "diagnose", "cli-mail", "--hostname", "mx1.cli.test");
        assertTrue(diagnose.out().contains("hostname:    mx1.cli.test matches"), diagnose.toString());
        assertTrue(diagnose.out().contains("problems:    none"), diagnose.toString());
        Run mismatch = expect(0, "cert", "diagnose", "cli-mail", "--hostname", "other.cli.test");
        assertTrue(mismatch.out().contains("does not match") && mismatch.out().contains("problems:\n  - "), mismatch.toString());

        // PKCS#12 out and back in under another name; a wrong password is refused naming the field.
        Path pw = Files.writeString(work.resolve("p12.pw"), "cli-secret-1\n");
        Path p12 = work.resolve("cli-mail.p12");
        Run exported = expect(0, "cert", "export", "cli-mail", "-o", p12.toString(), "--password-file", pw.toString());
        assertTrue(exported.out().startsWith("wrote " + p12), exported.toString());
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(new ByteArrayInputStream(Files.readAllBytes(p12)), "cli-secret-1".toCharArray());
        assertEquals(1, ks.size());
        Run shortPw = expect(1, "cert", "export", "cli-mail", "-o", work.resolve("x.p12").toString(), "--password-file",
                Files.writeString(work.resolve("short.pw"), "short").toString());
        assertTrue(shortPw.err().contains("  password: must be 8 to 128 printable ASCII characters"), shortPw.toString());
        Run imported = expect(0, "cert", "import", "cli-mail-copy", p12.toString(), "--password-file", pw.toString());
        assertTrue(imported.out().startsWith("cli-mail-copy: CA_SIGNED, "), imported.toString());
        Path wrong = Files.writeString(work.resolve("wrong.pw"), "not-the-password\n");
        Run badImport = expect(1, "cert", "import", "cli-mail-other", p12.toString(), "--password-file", wrong.toString());
        assertTrue(badImport.err().contains("  password: does not open"), badImport.toString());
        Run noPw = expect(2, "cert", "import", "cli-mail-other", p12.toString());
        assertTrue(noPw.err().contains("--password-file") && noPw.err().contains("--password"), noPw.toString());

        Run badName = expect(1, "cert", "new", "bad name!", "--cn", "x.cli.test");
        assertTrue(badName.err().contains("  name: must be 1 to 64 letters"), badName.toString());
        Run noCn = expect(2, "cert", "new", "cli-nocn");
        assertTrue(noCn.err().contains("Missing required option: '--cn=HOST'"), noCn.toString());
        expect(1, "cert", "show", "no-such-cert");
    }

    @Test
    void queueShowsTheSummaryAndOneMessage() throws Exception {
        // A domain of its own (other tests count the events of the shared ones) whose MX is the
        // no-starttls peer, under REQUIRED: the attempt fails before anything is sent and the mail stays queued.
        String d = "cli-queue.required.test";
        dns().mx(d, 10, "mx." + domain("no-starttls", "REQUIRED"));
        long mid = DeliveryCluster.enqueue("cli@sender.test", "rcpt@" + d, "X-Test: cli");
        DeliveryCluster.awaitAttempt(mid, Duration.ofSeconds(60));

        Run summary = expect(0, "queue", "show");
        List<List<String>> states = summary.table("STATE");
        assertEquals(List.of("STATE", "MESSAGES", "RECIPIENTS"), states.get(0), summary.toString());
        assertTrue(states.stream().anyMatch(r -> r.get(0).equals("QUEUED") && Long.parseLong(r.get(2)) >= 1), summary.toString());
        List<List<String>> domains = summary.table("DOMAIN");
        assertTrue(domains.stream().anyMatch(r -> r.get(0).equals(d) && Long.parseLong(r.get(1)) >= 1), summary.toString());

        Run one = expect(0, "queue", "show", String.valueOf(mid));
        assertTrue(one.out().startsWith("MID " + mid + " from <cli@sender.test>, "), one.toString());
        List<List<String>> rcpts = one.table("RID");
        assertEquals(List.of("RID", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST REPLY"), rcpts.get(0), one.toString());
        assertEquals("rcpt@" + d, rcpts.get(1).get(1), one.toString());
        assertEquals("QUEUED", rcpts.get(1).get(2), one.toString());
        List<List<String>> attempts = one.table("DCID");
        assertTrue(attempts.size() >= 2, one.toString());
        assertEquals("mx." + domain("no-starttls", "REQUIRED"), attempts.get(1).get(2), one.toString());
        assertTrue(attempts.get(1).get(4).startsWith("REQUIRED "), one.toString());
        JsonNode json = JSON.readTree(expect(0, "queue", "show", String.valueOf(mid), "--json").out());
        assertEquals(mid, json.get("mid").asLong());

        // Filters and paging of the listing.
        Run listed = expect(0, "queue", "show", "--domain", d, "--limit", "1000");
        assertTrue(listed.table("MID").stream().anyMatch(r -> r.get(0).equals(String.valueOf(mid)) && r.get(2).equals("rcpt@" + d)
                && r.get(3).equals("QUEUED") && r.get(4).equals("<cli@sender.test>")), listed.toString());
        Run none = expect(0, "queue", "show", "--domain", d, "--older-than", "P1D");
        assertTrue(none.table("MID").stream().noneMatch(r -> r.get(0).equals(String.valueOf(mid))), none.toString());
        Run badFilter = expect(1, "queue", "show", "--older-than", "1 day");
        assertTrue(badFilter.err().contains("  olderThan: "), badFilter.toString());

        // Queue actions: retry, the record of it, delete with a DSN; usage and refused input.
        Run retry = expect(0, "queue", "retry", String.valueOf(mid), "--comment", "from the CLI test");
        assertTrue(retry.out().startsWith("retry MID " + mid + ": 1 recipient(s) of 1 message(s)"), retry.toString());
        Run actions = expect(0, "queue", "actions", "--limit", "5");
        List<List<String>> acts = actions.table("ID");
        assertEquals(List.of("ID", "AT", "BY", "ACTION", "ON", "DETAIL", "RECIPIENTS", "COMMENT"), acts.get(0), actions.toString());
        assertTrue(acts.stream().anyMatch(r -> r.get(3).equals("retry") && r.get(4).equals("MID " + mid) && r.get(6).equals("1")
                && r.get(7).equals("from the CLI test")), actions.toString());
        Run nothing = expect(0, "queue", "bounce", "--domain", "nothing-queued.cli.test");
        assertTrue(nothing.out().startsWith("bounce domain nothing-queued.cli.test: 0 recipient(s) of 0 message(s)"), nothing.toString());
        Run badHost = expect(1, "queue", "redirect", String.valueOf(mid), "--host", "not a host");
        assertTrue(badHost.err().contains("  host: "), badHost.toString());
        Run neither = expect(2, "queue", "retry");
        assertTrue(neither.err().contains("give a MID or --domain, not neither"), neither.toString());
        expect(2, "queue", "delete", String.valueOf(mid), "--domain", d);
        expect(2, "queue", "redirect", String.valueOf(mid));
        Run deleted = expect(0, "queue", "delete", String.valueOf(mid), "--rid", "0", "--dsn");
        assertTrue(deleted.out().startsWith("delete MID " + mid + " RID [0]: 1 recipient(s) of 1 message(s)"), deleted.toString());
        assertEquals("DELETED", JSON.readTree(expect(0, "queue", "show", String.valueOf(mid), "--json").out())
                .at("/recipients/0/state").asText());

        Run unknown = expect(1, "queue", "show", "999999999");
        assertTrue(unknown.err().contains("answered 404 Not Found: no message with MID 999999999"), unknown.toString());
        Run bad = expect(1, "queue", "show", "abc");
        assertTrue(bad.err().contains("answered 400") && bad.err().contains("  mid: "), bad.toString());
    }

    @Test
    void checkPrintsTheHostTableVerdictsAndProgressAndItsExitCodeSaysWhetherMailWouldGo() throws Exception {
        // Own domains (the check is rate limited per domain), each with one MX: a peer of the cluster.
        String good = "cli-good.required-verify.test";
        String wrong = "cli-wrong.required-verify.test";
        dns().mx(good, 10, "mx." + domain("valid", "REQUIRED_VERIFY"));
        dns().mx(wrong, 10, "mx." + domain("wrong-host", "REQUIRED_VERIFY"));

        Run ok = expect(0, "check", good);
        assertTrue(ok.out().startsWith(good + ": destination entry .required-verify.test (REQUIRED_VERIFY), checked in "), ok.toString());
        List<List<String>> hosts = ok.table("HOST");
        assertEquals(List.of("HOST", "ADDRESS", "STARTTLS", "TLS", "CERTIFICATE", "NAMES", "SCORE"), hosts.get(0), ok.toString());
        List<String> h = hosts.get(1);
        assertEquals("mx." + domain("valid", "REQUIRED_VERIFY") + " (10)", h.get(0), ok.toString());
        assertEquals(peerAddress("valid") + ":" + DeliveryCluster.smtpPort(), h.get(1));
        assertEquals("offered, 220", h.get(2));
        assertTrue(h.get(3).startsWith("TLSv1.3 TLS_"), ok.toString());
        assertEquals("ok", h.get(4));
        assertTrue(List.of(h.get(5).split(" ")).contains("mx." + domain("valid", "REQUIRED_VERIFY")), ok.toString());
        assertEquals("90", h.get(6), ok.toString());
        assertTrue(ok.out().contains("Verdicts:\n  NONE: would deliver in plaintext"), ok.toString());
        assertTrue(ok.out().contains("\n=> effective: would deliver over TLS, certificate verified"), ok.toString());
        for (String step : List.of("dns", "rules", "connect", "greeting", "ehlo", "starttls", "handshake", "probe")) {
            assertTrue(ok.err().lines().anyMatch(l -> l.matches("  \\S+  " + step + "  \\d+ ms  .*")), step + " progress\n" + ok);
        }

        Run no = expect(4, "check", wrong, "--mode", "REQUIRED_VERIFY");
        assertTrue(no.out().contains("\n=> REQUIRED_VERIFY: would defer, ") && no.out().contains("certificate-host-mismatch"),
                no.toString());
        assertTrue(no.table("HOST").get(1).get(5).contains("!mx." + domain("wrong-host", "REQUIRED_VERIFY")), no.toString());
        Run preferred = expect(0, "check", wrong, "--mode", "PREFERRED", "--quiet");
        assertEquals("", preferred.err(), "--quiet prints no progress");
        JsonNode json = JSON.readTree(expect(4, "check", wrong, "--mode", "REQUIRED_VERIFY", "--json", "-q").out());
        assertEquals(wrong, json.get("target").asText());
        assertEquals("defer", json.at("/verdict/outcome").asText());
        assertEquals(1, json.get("hosts").size());

        Run badTarget = expect(1, "check", "not..a-domain");
        assertTrue(badTarget.err().contains("delivery-service answered 400") && badTarget.err().contains("  target: "),
                badTarget.toString());
        Run badMode = expect(1, "check", good, "--mode", "SOMETIMES", "--port", "0");
        assertTrue(badMode.err().contains("  mode: ") && badMode.err().contains("  port: "), badMode.toString());
        // The rate limit (5 per domain and minute): the fifth check of `wrong` passes, the sixth is refused.
        expect(0, "check", wrong, "-q", "--mode", "REQUIRED");
        expect(0, "check", wrong, "-q", "--mode", "NONE");
        Run limited = expect(1, "check", wrong, "-q");
        assertTrue(limited.err().contains("answered 429") && limited.err().contains("try again later"), limited.toString());
    }

    @Test
    void completionScriptCompletesCommandsAndModes() throws Exception {
        Run script = expect(0, "completion");
        assertTrue(script.out().contains("complete -F _complete_tlsgate"), script.toString());
        Path file = Files.writeString(work.resolve("completion.bash"), script.out());
        assertEquals(List.of("new"), complete(file, "tlsgate", "dest", "ne"));
        assertEquals(List.of("REQUIRED", "REQUIRED_VERIFY", "REQUIRED_VERIFY_HOSTED_DOMAINS"),
                complete(file, "tlsgate", "dest", "new", "x.test", "--tls", "REQ"));
        assertTrue(complete(file, "tlsgate", "cert", "").containsAll(List.of("list", "new", "csr", "upload", "assign", "diagnose")));
    }

    /** What bash's programmable completion offers for the last word, with the generated script loaded. */
    private static List<String> complete(Path script, String... words) throws Exception {
        String array = String.join(" ", Arrays.stream(words).map(w -> "'" + w + "'").toList());
        String cmd = "source '" + script + "'; COMP_WORDS=(" + array + "); COMP_CWORD=" + (words.length - 1)
                + "; COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}; _complete_tlsgate; printf '%s\\n' \"${COMPREPLY[@]}\"";
        // stderr aside: outside a real completion, bash's compopt complains (and changes nothing).
        Process p = new ProcessBuilder("bash", "-c", cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        List<String> words2 = new ArrayList<>(out.lines().map(String::strip).filter(l -> !l.isEmpty()).toList());
        java.util.Collections.sort(words2);
        return words2;
    }
}

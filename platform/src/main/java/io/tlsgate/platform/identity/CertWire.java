package io.tlsgate.platform.identity;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import io.grpc.MethodDescriptor;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;

/**
 * The calls of cert.proto's {@code CertService} that the shared code of every service makes:
 * enrolment ({@code GetInternalCa}, {@code IssueIdentity}) and the REST certificate
 * ({@code WatchBundle} of the {@code https} slot). The services generate their stubs from the
 * proto themselves, so the platform, which every service shares, encodes these few messages
 * by hand, field for field as cert.proto defines them (cert-service's {@code InternalCaTest}
 * checks both directions against the generated classes).
 */
public final class CertWire {

    private CertWire() {}

    /** {@code GetInternalCaRequest}. */
    public record CaRequest(String service) {}

    /** {@code InternalCa}. */
    public record Ca(List<byte[]> certificates, byte[] mac) {}

    /** {@code IssueIdentityRequest}. */
    public record IssueRequest(String service, byte[] publicKey) {}

    /** {@code IssuedIdentity}. */
    public record Issued(List<byte[]> chain) {}

    /** {@code GetBundleRequest}. */
    public record BundleRequest(String slot) {}

    /** {@code CertificateBundle}. Secret: holds a private key; never log it. */
    public record Bundle(String slot, String certificate, boolean demo, boolean assigned, byte[] privateKeyPkcs8,
            String keyAlgorithm, List<byte[]> chain, long revision) {
        @Override
        public String toString() {
            return "Bundle[" + slot + ", " + certificate + ", revision " + revision + "]";
        }
    }

    public static final MethodDescriptor<BundleRequest, Bundle> WATCH_BUNDLE = MethodDescriptor.<BundleRequest, Bundle>newBuilder()
            .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
            .setFullMethodName("tlsgate.cert.v1.CertService/WatchBundle")
            .setRequestMarshaller(marshaller(CertWire::encode, CertWire::bundleRequest))
            .setResponseMarshaller(marshaller(CertWire::encode, CertWire::bundle))
            .build();

    public static final MethodDescriptor<CaRequest, Ca> GET_INTERNAL_CA = MethodDescriptor.<CaRequest, Ca>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("tlsgate.cert.v1.CertService/GetInternalCa")
            .setRequestMarshaller(marshaller(CertWire::encode, CertWire::caRequest))
            .setResponseMarshaller(marshaller(CertWire::encode, CertWire::ca))
            .build();

    public static final MethodDescriptor<IssueRequest, Issued> ISSUE_IDENTITY = MethodDescriptor.<IssueRequest, Issued>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("tlsgate.cert.v1.CertService/IssueIdentity")
            .setRequestMarshaller(marshaller(CertWire::encode, CertWire::issueRequest))
            .setResponseMarshaller(marshaller(CertWire::encode, CertWire::issued))
            .build();

    /** {@code InternalCa.mac}: HMAC-SHA256 under {@code token} (UTF-8) of the certificates' DER, concatenated. */
    public static byte[] mac(String token, List<byte[]> certificates) throws java.security.GeneralSecurityException {
        javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
        mac.init(new javax.crypto.spec.SecretKeySpec(token.getBytes(java.nio.charset.StandardCharsets.UTF_8), "HmacSHA256"));
        for (byte[] c : certificates) {
            mac.update(c);
        }
        return mac.doFinal();
    }

    public static byte[] encode(CaRequest m) {
        return write(o -> o.writeString(1, m.service()));
    }

    public static byte[] encode(Ca m) {
        return write(o -> {
            for (byte[] c : m.certificates()) {
                o.writeByteArray(1, c);
            }
            o.writeByteArray(2, m.mac());
        });
    }

    public static byte[] encode(IssueRequest m) {
        return write(o -> {
            o.writeString(1, m.service());
            o.writeByteArray(2, m.publicKey());
        });
    }

    public static byte[] encode(Issued m) {
        return write(o -> {
            for (byte[] c : m.chain()) {
                o.writeByteArray(1, c);
            }
        });
    }

    public static byte[] encode(BundleRequest m) {
        return write(o -> o.writeString(1, m.slot()));
    }

    public static byte[] encode(Bundle m) {
        return write(o -> {
            o.writeString(1, m.slot());
            o.writeString(2, m.certificate());
            o.writeBool(3, m.demo());
            o.writeBool(4, m.assigned());
            o.writeByteArray(5, m.privateKeyPkcs8());
            o.writeString(6, m.keyAlgorithm());
            for (byte[] c : m.chain()) {
                o.writeByteArray(7, c);
            }
            o.writeInt64(8, m.revision());
        });
    }

    public static BundleRequest bundleRequest(byte[] b) {
        String[] slot = {""};
        read(b, (field, in) -> {
            if (field == 1) {
                slot[0] = in.readString();
                return true;
            }
            return false;
        });
        return new BundleRequest(slot[0]);
    }

    public static Bundle bundle(byte[] b) {
        String[] text = {"", "", ""};
        boolean[] flags = {false, false};
        byte[][] key = {new byte[0]};
        List<byte[]> chain = new ArrayList<>();
        long[] revision = {0};
        read(b, (field, in) -> {
            switch (field) {
                case 1 -> text[0] = in.readString();
                case 2 -> text[1] = in.readString();
                case 3 -> flags[0] = in.readBool();
                case 4 -> flags[1] = in.readBool();
                case 5 -> key[0] = in.readByteArray();
                case 6 -> text[2] = in.readString();
                case 7 -> chain.add(in.readByteArray());
                case 8 -> revision[0] = in.readInt64();
                default -> {
                    return false;
                }
            }
            return true;
        });
        return new Bundle(text[0], text[1], flags[0], flags[1], key[0], text[2], chain, revision[0]);
    }

    public static CaRequest caRequest(byte[] b) {
        String[] service = {""};
        read(b, (field, in) -> {
            if (field == 1) {
                service[0] = in.readString();
                return true;
            }
            return false;
        });
        return new CaRequest(service[0]);
    }

    public static Ca ca(byte[] b) {
        List<byte[]> certs = new ArrayList<>();
        byte[][] mac = {new byte[0]};
        read(b, (field, in) -> {
            if (field == 1) {
                certs.add(in.readByteArray());
                return true;
            } else if (field == 2) {
                mac[0] = in.readByteArray();
                return true;
            }
            return false;
        });
        return new Ca(certs, mac[0]);
    }

    public static IssueRequest issueRequest(byte[] b) {
        String[] service = {""};
        byte[][] key = {new byte[0]};
        read(b, (field, in) -> {
            if (field == 1) {
                service[0] = in.readString();
                return true;
            } else if (field == 2) {
                key[0] = in.readByteArray();
                return true;
            }
            return false;
        });
        return new IssueRequest(service[0], key[0]);
    }

    public static Issued issued(byte[] b) {
        List<byte[]> chain = new ArrayList<>();
        read(b, (field, in) -> {
            if (field == 1) {
                chain.add(in.readByteArray());
                return true;
            }
            return false;
        });
        return new Issued(chain);
    }

    private interface Writer {
        void write(CodedOutputStream out) throws IOException;
    }

    private interface FieldReader {
        /** Reads field {@code number}; false when it is not known (it is skipped). */
        boolean read(int number, CodedInputStream in) throws IOException;
    }

    private static byte[] write(Writer w) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            CodedOutputStream out = CodedOutputStream.newInstance(bytes);
            w.write(out);
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void read(byte[] b, FieldReader r) {
        try {
            CodedInputStream in = CodedInputStream.newInstance(b);
            int tag;
            while ((tag = in.readTag()) != 0) {
                if (!r.read(tag >>> 3, in)) {
                    in.skipField(tag);
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("malformed message: " + e.getMessage(), e);
        }
    }

    private static <T> MethodDescriptor.Marshaller<T> marshaller(java.util.function.Function<T, byte[]> encode,
            java.util.function.Function<byte[], T> decode) {
        return new MethodDescriptor.Marshaller<>() {
            @Override
            public InputStream stream(T value) {
                return new ByteArrayInputStream(encode.apply(value));
            }

            @Override
            public T parse(InputStream stream) {
                byte[] bytes = null;
                try {
                    bytes = stream.readAllBytes();
                    return decode.apply(bytes);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                } finally {
                    if (bytes != null) {
                        java.util.Arrays.fill(bytes, (byte) 0); // a bundle's private key is in there
                    }
                }
            }
        };
    }
}

package io.tlsgate.platform.identity;

import com.google.protobuf.ByteString;
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
 * The two enrolment calls of cert.proto's {@code CertService} ({@code GetInternalCa},
 * {@code IssueIdentity}) for the shared code of every service. The services generate their
 * stubs from the proto themselves, so the platform, which every service shares, encodes these
 * four small messages by hand, field for field as cert.proto defines them (cert-service's
 * {@code EnrollmentWireTest} checks both directions against the generated classes).
 */
public final class EnrollmentWire {

    private EnrollmentWire() {}

    /** {@code GetInternalCaRequest}. */
    public record CaRequest(String service) {}

    /** {@code InternalCa}. */
    public record Ca(List<byte[]> certificates, byte[] mac) {}

    /** {@code IssueIdentityRequest}. */
    public record IssueRequest(String service, byte[] publicKey) {}

    /** {@code IssuedIdentity}. */
    public record Issued(List<byte[]> chain) {}

    public static final MethodDescriptor<CaRequest, Ca> GET_INTERNAL_CA = MethodDescriptor.<CaRequest, Ca>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("tlsgate.cert.v1.CertService/GetInternalCa")
            .setRequestMarshaller(marshaller(EnrollmentWire::encode, EnrollmentWire::caRequest))
            .setResponseMarshaller(marshaller(EnrollmentWire::encode, EnrollmentWire::ca))
            .build();

    public static final MethodDescriptor<IssueRequest, Issued> ISSUE_IDENTITY = MethodDescriptor.<IssueRequest, Issued>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("tlsgate.cert.v1.CertService/IssueIdentity")
            .setRequestMarshaller(marshaller(EnrollmentWire::encode, EnrollmentWire::issueRequest))
            .setResponseMarshaller(marshaller(EnrollmentWire::encode, EnrollmentWire::issued))
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
                try {
                    return decode.apply(ByteString.readFrom(stream).toByteArray());
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        };
    }
}

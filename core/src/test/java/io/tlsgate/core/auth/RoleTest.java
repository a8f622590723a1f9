package io.tlsgate.core.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import org.junit.jupiter.api.Test;

class RoleTest {

    @Test
    void adminIncludesOperatorAndReaderButReaderIncludesOnlyItself() {
        assertEquals(EnumSet.allOf(Role.class), Role.ADMIN.included());
        assertEquals(EnumSet.of(Role.OPERATOR, Role.READER), Role.OPERATOR.included());
        assertEquals(EnumSet.of(Role.READER), Role.READER.included());
        assertTrue(Role.OPERATOR.includes(Role.READER));
        assertFalse(Role.READER.includes(Role.OPERATOR));
        assertFalse(Role.OPERATOR.includes(Role.ADMIN));
    }

    @Test
    void parseAcceptsAnyCaseAndRejectsUnknownNamesNamingTheValue() {
        assertEquals(Role.OPERATOR, Role.parse(" Operator "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Role.parse("root"));
        assertTrue(e.getMessage().contains("'root'"), e.getMessage());
    }
}

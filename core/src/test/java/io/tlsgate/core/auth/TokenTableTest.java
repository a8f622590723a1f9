package io.tlsgate.core.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TokenTableTest {

    private final TokenTable table = TokenTable.of(List.of(
            new TokenTable.Entry("alice", "alice-token-0123456789", Role.ADMIN),
            new TokenTable.Entry("bob", "bob-token-0123456789ab", Role.READER)));

    @Test
    void knownTokenResolvesToItsPrincipalAndRole() {
        assertEquals(Optional.of(new TokenTable.Principal("bob", Role.READER)),
                table.lookup("bob-token-0123456789ab"));
        assertEquals(Optional.of(new TokenTable.Principal("alice", Role.ADMIN)),
                table.lookup("alice-token-0123456789"));
    }

    @Test
    void unknownEmptyOrPrefixTokenResolvesToNobody() {
        assertTrue(table.lookup("bob-token-0123456789").isEmpty());
        assertTrue(table.lookup("bob-token-0123456789abc").isEmpty());
        assertTrue(table.lookup("").isEmpty());
        assertTrue(table.lookup(null).isEmpty());
    }

    @Test
    void shortEmptyOrSharedTokensAreRefusedNamingThePrincipal() {
        IllegalArgumentException shortOne = assertThrows(IllegalArgumentException.class,
                () -> TokenTable.of(List.of(new TokenTable.Entry("carol", "short", Role.READER))));
        assertTrue(shortOne.getMessage().contains("'carol'"), shortOne.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> TokenTable.of(List.of(new TokenTable.Entry("dave", " ", Role.READER))));
        IllegalArgumentException shared = assertThrows(IllegalArgumentException.class, () -> TokenTable.of(List.of(
                new TokenTable.Entry("x", "same-token-0123456789", Role.READER),
                new TokenTable.Entry("y", "same-token-0123456789", Role.ADMIN))));
        assertTrue(shared.getMessage().contains("same token"), shared.getMessage());
    }

    @Test
    void bearerHeaderParsingAcceptsOnlyTheBearerScheme() {
        assertEquals(Optional.of("abc"), TokenTable.bearerToken("Bearer abc"));
        assertEquals(Optional.of("abc"), TokenTable.bearerToken("bearer   abc "));
        assertTrue(TokenTable.bearerToken("Basic YWxhZGRpbjpvcGVuc2VzYW1l").isEmpty());
        assertTrue(TokenTable.bearerToken("Bearer ").isEmpty());
        assertTrue(TokenTable.bearerToken("Bearerabc").isEmpty());
        assertTrue(TokenTable.bearerToken(null).isEmpty());
    }
}

package org.mdpgateway.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.Collections;

/**
 * The HTTPS identity of {@code --tls-keystore} and {@code --tls-keystore-password-file}: a PKCS12 key
 * store, opened once at startup so a wrong password or a store without a private key stops the
 * gateway before it listens. Immutable after; the password never appears in {@link #toString()}.
 *
 * @param keystore where the store was read from, for messages
 * @param keyStore the opened store
 * @param password its password, also the password of its key (as {@code keytool} makes PKCS12 stores)
 */
record TlsSettings(Path keystore, KeyStore keyStore, String password) {

    /**
     * Opens {@code keystore} with the password in {@code passwordFile} (its text, less one trailing
     * line break).
     *
     * @throws IllegalArgumentException naming the file that is missing, unreadable or wrong
     */
    static TlsSettings load(Path keystore, Path passwordFile) {
        String password;
        try {
            password = Files.readString(passwordFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the key store password file " + passwordFile + ": " + e);
        }
        password = password.endsWith("\r\n") ? password.substring(0, password.length() - 2)
                : password.endsWith("\n") ? password.substring(0, password.length() - 1) : password;
        KeyStore store;
        try (InputStream in = Files.newInputStream(keystore)) {
            store = KeyStore.getInstance("PKCS12");
            store.load(in, password.toCharArray());
        } catch (IOException | GeneralSecurityException e) {
            // A wrong password shows as an IOException whose cause is an UnrecoverableKeyException.
            throw new IllegalArgumentException("cannot open the PKCS12 key store " + keystore
                    + " with the password in " + passwordFile + ": " + e.getMessage());
        }
        try {
            boolean hasKey = false;
            for (String alias : Collections.list(store.aliases())) {
                hasKey |= store.isKeyEntry(alias);
            }
            if (!hasKey) {
                throw new IllegalArgumentException("the key store " + keystore + " has no private key");
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalArgumentException("cannot read the key store " + keystore + ": " + e.getMessage());
        }
        return new TlsSettings(keystore, store, password);
    }

    @Override
    public String toString() {
        return "TlsSettings[" + keystore + "]";
    }
}

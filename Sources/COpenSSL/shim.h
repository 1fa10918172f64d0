#ifndef HOMEHUB_COPENSSL_SHIM_H
#define HOMEHUB_COPENSSL_SHIM_H
/* The few libcrypto operations the hub's device CA needs, as plain C functions: OpenSSL's
   API is full of macros and variadic calls that Swift cannot import. */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A new P-256 key, or NULL. */
static inline EVP_PKEY *homehub_generate_key(void) {
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *context = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (context && EVP_PKEY_keygen_init(context) > 0 &&
        EVP_PKEY_CTX_set_ec_paramgen_curve_nid(context, NID_X9_62_prime256v1) > 0) {
        if (EVP_PKEY_keygen(context, &key) <= 0) key = NULL;
    }
    EVP_PKEY_CTX_free(context);
    return key;
}

static inline int homehub_add_extension(X509 *certificate, X509 *issuer, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, issuer, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (!extension) return 0;
    int ok = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return ok;
}

/* A certificate for `key` named CN=`common_name`, signed by `issuer_key` (self-signed when
   `issuer` is NULL). A CA when `is_ca`; otherwise a TLS client and server certificate with
   the subjectAltName `alt_names` (may be NULL). Valid from an hour ago for `days`. */
static inline X509 *homehub_make_certificate(EVP_PKEY *key, const char *common_name, X509 *issuer,
                                             EVP_PKEY *issuer_key, int is_ca, long days,
                                             const char *alt_names) {
    X509 *certificate = X509_new();
    if (!certificate) return NULL;
    int ok = X509_set_version(certificate, 2);
    BIGNUM *serial = BN_new();
    ok = ok && serial && BN_rand(serial, 120, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate));
    BN_free(serial);
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) &&
         X509_gmtime_adj(X509_getm_notAfter(certificate), days * 86400L) && X509_set_pubkey(certificate, key);
    X509_NAME *name = X509_get_subject_name(certificate);
    ok = ok && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"homehub", -1, -1, 0) &&
         X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0);
    ok = ok && X509_set_issuer_name(certificate, issuer ? X509_get_subject_name(issuer) : name);
    X509 *signer = issuer ? issuer : certificate;
    if (is_ca) {
        ok = ok && homehub_add_extension(certificate, signer, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
             homehub_add_extension(certificate, signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        ok = ok && homehub_add_extension(certificate, signer, NID_basic_constraints, "critical,CA:FALSE") &&
             homehub_add_extension(certificate, signer, NID_key_usage, "critical,digitalSignature,keyAgreement") &&
             homehub_add_extension(certificate, signer, NID_ext_key_usage, "clientAuth,serverAuth");
        if (alt_names) ok = ok && homehub_add_extension(certificate, signer, NID_subject_alt_name, alt_names);
    }
    ok = ok && homehub_add_extension(certificate, signer, NID_subject_key_identifier, "hash");
    if (issuer) ok = ok && homehub_add_extension(certificate, signer, NID_authority_key_identifier, "keyid:always");
    ok = ok && X509_sign(certificate, issuer_key ? issuer_key : key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(certificate);
        return NULL;
    }
    return certificate;
}

/* PEM text of a key or certificate (free() it), or NULL. */
static inline char *homehub_bio_text(BIO *bio) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    char *copy = length >= 0 ? malloc((size_t)length + 1) : NULL;
    if (copy) {
        memcpy(copy, data, (size_t)length);
        copy[length] = 0;
    }
    BIO_free(bio);
    return copy;
}

static inline char *homehub_key_pem(EVP_PKEY *key) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
        BIO_free(bio);
        return NULL;
    }
    return homehub_bio_text(bio);
}

static inline char *homehub_certificate_pem(X509 *certificate) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio || !PEM_write_bio_X509(bio, certificate)) {
        BIO_free(bio);
        return NULL;
    }
    return homehub_bio_text(bio);
}

static inline EVP_PKEY *homehub_read_key(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return key;
}

/* Seconds from now until the certificate's notAfter (negative: expired); LONG_MIN on error. */
static inline long homehub_seconds_left(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *certificate = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (!certificate) return LONG_MIN;
    int days = 0, seconds = 0;
    int ok = ASN1_TIME_diff(&days, &seconds, NULL, X509_get0_notAfter(certificate));
    X509_free(certificate);
    return ok ? (long)days * 86400L + seconds : LONG_MIN;
}

static inline X509 *homehub_read_certificate(const char *pem) {
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *certificate = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return certificate;
}
#endif

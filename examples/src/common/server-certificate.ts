/**
 * The certificate the TLS examples use, in the role of Beast's
 * `example/common/server_certificate.hpp` (`load_server_certificate`) and
 * `root_certificates.hpp` (`load_root_certificates`): the server presents
 * it, and the client trusts it as its only root.
 *
 * A self-signed certificate for `localhost`, 127.0.0.1 and ::1, made for
 * these examples with
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj /CN=localhost \
 *     -addext subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
 * Its private key is public, here: never use it for anything but examples.
 */
import type { net } from 'tsio';

const cert = `-----BEGIN CERTIFICATE-----
MIIDOjCCAiKgAwIBAgIUNynclOxlZ47kAbt+da+HzrvYsmIwDQYJKoZIhvcNAQEL
BQAwFDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTEwMTYwNFoYDzIxMjYx
MTAxMTAxNjA0WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQC7rNpsoeDmvMzMxMEuKOYdcn3FGD7r2AoIqUHuYYu+
Zy1a1ctSqaY/9+zhX8lA4vl8JegvQnw7DW6SnB8WwC6eB/Ufxrcca6CF5H1duPr2
Rx2InecDI3oQroq+R01Wxq23EXDTSkdA2he8zlIAyD+zyOz5dB6zygGA/0K6g1tL
arQVqA5KwOrUxL+qH38BMZAbBPRFn6sHFQd4uf1oi1bXyZScnC72ETmZPuINvFwt
ohQyKC0N/Nj0zKjJmQZ1Xl0CcMlf3OdIMCVykjRT5ihOaalTxKsujG9HFFscKIwN
OjE/3vI2Ut39/V9hQJAHraViNl2dG0TEtnAC1gzovLAVAgMBAAGjgYEwfzAdBgNV
HQ4EFgQUcFNlhWfXy+n3S1OHL8bwiGojTSowHwYDVR0jBBgwFoAUcFNlhWfXy+n3
S1OHL8bwiGojTSowDwYDVR0TAQH/BAUwAwEB/zAsBgNVHREEJTAjgglsb2NhbGhv
c3SHBH8AAAGHEAAAAAAAAAAAAAAAAAAAAAEwDQYJKoZIhvcNAQELBQADggEBABIa
lrQUt3ALr+WgERmWa0i9Vw+t4rSqadD8dmaYNTGxEbE7ThcHViQI8+ASRcbM5/wz
Bv9tdvUrpjXmDJyVDg3xF5lUItJn3ibXM2TLSinvvnuTDwToLA81Y4GO1cf3fH2+
8zpE6zknxmA8iK1a5kPhehI8DGBWo5P8H9jwQWZ7sBCtlzqi4/DK3kVenbA2tffd
Lp+4jltdZw8ezm2N3cusgz+5BkOcLSN9FAI7v8qPq9qj55hw4+TETVX7Dpn18+rH
QjLoYS9/CIr6CFOuxd/0TSP/6IYrgeCew9Ut7oMyum/tjWxMNIt3EJ3FRNxdBj7r
0PmjH/NfHH4wnwWNVE4=
-----END CERTIFICATE-----
`;

const key = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC7rNpsoeDmvMzM
xMEuKOYdcn3FGD7r2AoIqUHuYYu+Zy1a1ctSqaY/9+zhX8lA4vl8JegvQnw7DW6S
nB8WwC6eB/Ufxrcca6CF5H1duPr2Rx2InecDI3oQroq+R01Wxq23EXDTSkdA2he8
zlIAyD+zyOz5dB6zygGA/0K6g1tLarQVqA5KwOrUxL+qH38BMZAbBPRFn6sHFQd4
uf1oi1bXyZScnC72ETmZPuINvFwtohQyKC0N/Nj0zKjJmQZ1Xl0CcMlf3OdIMCVy
kjRT5ihOaalTxKsujG9HFFscKIwNOjE/3vI2Ut39/V9hQJAHraViNl2dG0TEtnAC
1gzovLAVAgMBAAECggEAAagYc34IULEY87PG6sPkqBzjHFLG92j8SbBIyzRkOeWK
QnOBrHSf6Y+kMScZzS9TuXNSNdyV4SWQtM2Y/qfqoW17jfDAnAkdLSFjs+iWmobt
LVALgn0VLkGEKwLRHXN6hBOs1cihkWJ7dCi0E5qw6ULcSKVsQfUGB1/5dFEFhMhj
9GBqMbVlYrs8qfStrZ1bGmhMqjj6I15hlfvJRob7eT8RmZl+kgf7ehgR+s09/Slv
J0TYgdcHch4oG/cmZnehNTlFr5fHiJFICu6plFbkOPeH+b3jke7kxA9FrJ2IXqao
oiCqq0EcTPl7JGmF7trrc3VVZ6OMEBg9QaM0gvR9MQKBgQDxNEBuXsmOLCUKrfE9
vFSKBf/SVs2NsbQXieE0tgKwBk3rIBGkHmcxRQyGK8MDGl9DNcjjaqIAC1SBJbax
QL/XvcTNzFh3YrEx2sIy3+hutCrML2cl3UrFlKghm4MSANo4XEBNnLE98J21bKh3
ZBXAeq0f9FjhpCIQE/vxVTF3aQKBgQDHMAKyrKU7abswlc5jp/k/twbe4XtxCet3
oFr+GqJRT1zA3aIkYwkr6xOSJgZGFtXQ5VyCpDlPcYAFEbyOdeDSVQ3SCehkPMFI
BT8S7pVDEZ1ePPw/stlcRqbBaDdLgIZYkZ67pXSvSBrMvaXiCouW2lsOw42jOv9P
ZJSQxjZpzQKBgDZKO4JcJWOxvfikZBswK5sRdJ5EWWneKJnvt9fka8Bw+tLEWhQl
n7ZwQzxj1zX4lp6LGZdOZf46jp+u/GrzFvsZRJXJu9PLS/Tbt0A6M5fPR57DwKS+
JVlJd3pxBVRlCrkK0pJlhWNaqDSwq06MIXU8Z4E8v1CyX9RcmyWbtlGZAoGBAJHs
bk2PhY09LFGvrf/8MvGmmHX4IoLxjXuaEo9N29RNm9n/hKW7mCCAm1naWYZHfGUJ
YviibwnwUKVmFQkY+pecj/9sGsA0cjTdAxRPjTIRWYSMkQ/paqvbZpcSTlAV3FZO
eEdoM0+mN1v/I+OxbgoZ9dOfF8iZlCkJun1FeN+RAoGBAJf/B2IfrHaQuwHMPwtY
uRDYtEKoqJTWt3rQDp6YRZfpS3JgplHDLKJQO+kQQur1M9VPNKr7oJVhMq6Zh3BH
yU8kf2HeSwMlkNSVItqZQH+FZxlWRh8M8fEYl1ABLvX7Y1N29Rwc51bjyTyqzhXB
Trt9ThIDbo43uiCzJzwT7Av1
-----END PRIVATE KEY-----
`;

/** Beast's `load_server_certificate(ctx)`: the chain and key a server presents. */
export function loadServerCertificate(ctx: net.ssl.Context): void {
  ctx.useCertificateChain(cert);
  ctx.usePrivateKey(key);
}

/** Beast's `load_root_certificates(ctx)`: the authority a client trusts (here, the same self-signed certificate). */
export function loadRootCertificates(ctx: net.ssl.Context): void {
  ctx.addCertificateAuthority(cert);
}

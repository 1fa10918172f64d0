import HubCrypto
import HubProcess
import Testing

/// The HTTPS listener's certificate from the hub's CA: made once, kept while its names hold,
/// made again when they change (a new host name or address).
@Suite struct ServerCertificateTests {
    @Test func itIsKeptWhileItsNamesHoldAndReissuedWhenTheyChange() throws {
        let directory = TemporaryDirectory()
        let authority = try DeviceCA(directory: directory.path + "/ca")
        let names = "DNS:hub,DNS:hub.local,DNS:localhost,IP:127.0.0.1"
        let first = try authority.serverCertificate(altNames: names, commonName: "hub")
        let issued = FileContents.text(first.certificate)
        #expect(issued?.contains("BEGIN CERTIFICATE") == true)
        #expect(FileContents.text(first.key)?.contains("PRIVATE KEY") == true)
        _ = try authority.serverCertificate(altNames: names, commonName: "hub")
        #expect(FileContents.text(first.certificate) == issued, "same names: the same certificate")
        _ = try authority.serverCertificate(altNames: names + ",IP:192.168.1.20", commonName: "hub")
        #expect(FileContents.text(first.certificate) != issued, "a new address: a new certificate")
    }
}

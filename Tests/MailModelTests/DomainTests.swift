import MailModel
import Testing

@Suite struct DomainTests {
    // Examples from RFC 3492 7.1 and common IDNs.
    @Test(arguments: [
        ("münchen", "mnchen-3ya"), ("bücher", "bcher-kva"), ("ñ", "ida"),
        ("他们为什么不说中文", "ihqwcrb4cv8a8dqg056pqjye"), ("3年b組金八先生", "3b-ww4c5e180e575a65lsy2b"),
    ])
    func punycode(_ label: String, _ encoded: String) {
        #expect(Punycode.encode(label) == encoded)
    }

    @Test func domainsCompareInOneForm() {
        let forms = ["münchen.example", "MÜNCHEN.example", "mu\u{308}nchen.example", "xn--mnchen-3ya.example", "XN--MNCHEN-3YA.EXAMPLE."]
        let keys = Set(forms.map { Domain($0).key })
        #expect(keys == ["xn--mnchen-3ya.example"])
        #expect(Domain("[192.0.2.1]").key == "[192.0.2.1]")
    }
}

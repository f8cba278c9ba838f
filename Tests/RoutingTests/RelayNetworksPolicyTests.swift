import MailModel
import Routing
import Testing

@Suite struct RelayNetworksPolicyTests {
    let recipient = try! EmailAddress(parsing: "bob@example.net")

    func decide(_ client: String?, user: String? = nil, networks: [IPNetwork] = RelayNetworksPolicy.defaultNetworks)
        -> RecipientDecision
    {
        RelayNetworksPolicy(trustedNetworks: networks).decide(
            recipient: recipient,
            for: SubmissionContext(
                clientAddress: client.flatMap(IPAddress.init), authenticatedUser: user, sender: .null))
    }

    var accepted: RecipientDecision { .accept([Destination(address: recipient, route: .mx)]) }

    @Test func defaultsTrustOnlyLoopback() {
        #expect(decide("127.0.0.1") == accepted)
        #expect(decide("::1") == accepted)
        #expect(decide("::ffff:127.0.0.1") == accepted)
        #expect(decide("192.0.2.1") == .refuse(RelayNetworksPolicy.relayDenied))
        #expect(decide("2001:db8::1") == .refuse(RelayNetworksPolicy.relayDenied))
        #expect(decide(nil) == .refuse(RelayNetworksPolicy.relayDenied))
    }

    @Test func authenticatedClientsRelayFromAnywhere() {
        #expect(decide("203.0.113.5", user: "alice") == accepted)
    }

    @Test func configuredNetworks() {
        let networks = [IPNetwork("10.0.0.0/8")!]
        #expect(decide("10.1.2.3", networks: networks) == accepted)
        #expect(decide("127.0.0.1", networks: networks) == .refuse(RelayNetworksPolicy.relayDenied))
    }

    @Test func refusalIs554With571() {
        #expect(RelayNetworksPolicy.relayDenied.code == 554)
        #expect(RelayNetworksPolicy.relayDenied.enhancedCode == EnhancedStatusCode(5, 7, 1))
    }
}

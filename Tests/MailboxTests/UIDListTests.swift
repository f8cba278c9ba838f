import Mailbox
import Testing

@Suite struct UIDListTests {
    @Test func roundTrips() throws {
        var list = UIDList(uidValidity: 1_764_230_000)
        _ = list.add(base: "a,S=1,W=1", size: 1)
        _ = list.add(base: "b", size: 20)
        let text = list.text
        #expect(text == "relaygate-uidlist 1 1764230000 3 1\n1 1 a,S=1,W=1\n2 20 b\n", "both added are recent")
        #expect(UIDList(text: text) == list)
    }

    /// Lists from before the first recent UID was kept read as "nothing recent beyond new/".
    @Test func aListWithoutTheFirstRecentUIDHasNoneRecent() throws {
        let old = try #require(UIDList(text: "relaygate-uidlist 1 5 3\n1 10 a\n"))
        #expect(old.firstRecent == 3)
        #expect(UIDList(text: "relaygate-uidlist 1 5 3 4\n1 10 a\n") == nil, "the first recent UID is at most UIDNEXT")
    }

    @Test(arguments: [
        "",
        "dovecot-uidlist 3\n",
        "relaygate-uidlist 1 0 1\n",
        "relaygate-uidlist 1 5 3\n2 10 a\n1 10 b\n",
        "relaygate-uidlist 1 5 3\n3 10 a\n",
        "relaygate-uidlist 1 5 3\n1 x a\n",
        "relaygate-uidlist 1 5 3\n1 10\n",
    ])
    func damagedListsAreNotTrusted(_ text: String) {
        #expect(UIDList(text: text) == nil)
    }

    @Test func reconcileKeepsUIDsDropsGoneFilesAndNumbersNewOnesOldestFirst() {
        var list = UIDList(uidValidity: 7)
        _ = list.add(base: "kept", size: 1)
        _ = list.add(base: "gone", size: 2)
        let changed = list.reconcile(
            with: [
                .init(base: "late", modified: 300), .init(base: "kept", modified: 0),
                .init(base: "early", modified: 100),
            ],
            size: { $0 == "late" ? 30 : 10 })
        #expect(changed)
        #expect(list.entries.map(\.uid) == [1, 3, 4])
        #expect(list.entries.map(\.base) == ["kept", "early", "late"])
        #expect(list.entries.map(\.size) == [1, 10, 30])
        #expect(list.uidNext == 5)
        let unchanged = list.reconcile(with: list.entries.map { .init(base: $0.base, modified: 0) }, size: { _ in 0 })
        #expect(!unchanged)
    }

    @Test func aFileThatVanishesWhileSizedGetsNoUID() {
        var list = UIDList(uidValidity: 7)
        let changed = list.reconcile(with: [.init(base: "x", modified: 1)], size: { _ in nil })
        #expect(!changed)
        #expect(list.entries.isEmpty && list.uidNext == 1)
    }
}

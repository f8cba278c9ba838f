/// The authenticated and selected states (RFC 3501 6.3, 6.4): folder commands, and FETCH, STORE and EXPUNGE
/// on the selected folder. Mailbox work goes to the driver as an `IMAPRequest`; its `IMAPResult` comes back
/// through `requestFinished`, and `Pending` says how to answer.
extension IMAPSession {
    struct Selection: Equatable {
        var name: String
        var readOnly: Bool
        var view: FolderView
    }

    enum Pending: Equatable {
        case select(name: String, readOnly: Bool)
        case list(subscribedOnly: Bool)
        case status(name: String, items: [IMAPCommand.StatusItem])
        case plain(command: String)
        /// FETCH goes in batches too (`fetchBatch` messages when content is loaded), so `1:* BODY[]` on a
        /// large folder never holds it all in memory.
        case fetch(sequences: [UInt32: Int], attributes: [FetchAttribute], remaining: [UInt32], markSeen: Bool)
        case store(silent: Bool, uid: Bool)
        case expunge(report: Bool, command: String)
        case refresh(command: String)
        /// SEARCH goes through the folder in batches (`searchBatch`), so content keys never hold a large
        /// folder in memory at once.
        case search(key: SearchKey, uid: Bool, remaining: [UInt32], matches: [Int], octetsRead: Int)
        case append
        case copy(move: Bool, command: String)
        /// A poll while idling: report changes, then idle on.
        case idle
        /// A command that may have changed the selected folder succeeded: report what changed (its own
        /// new messages too, RFC 3501 5.2), then complete it with `text`.
        case announce(text: String)
        /// A streamed APPEND's folder is being looked at before its literal is let in.
        case appendTarget(size: Int)
    }

    static let searchBatch = 200
    static let fetchBatch = 50

    static let flagNames = "\\Answered \\Flagged \\Deleted \\Seen \\Draft"

    mutating func handleAuthenticated(_ command: IMAPCommand, user: String) {
        let tag = command.tag
        switch command.kind {
        case .select(let name), .examine(let name):
            let readOnly = if case .examine = command.kind { true } else { false }
            // Selecting closes the folder selected before, even if this one fails (RFC 3501 6.3.1).
            if selection != nil { emit(.send("* OK [CLOSED] Previous folder closed\r\n")) }
            selection = nil
            ask(.select(name, readOnly: readOnly), .select(name: name, readOnly: readOnly), tag: tag, user: user)
        case .namespace:
            emit(.send("* NAMESPACE ((\"\" \".\")) NIL NIL\r\n"))
            tagged(tag, "OK NAMESPACE completed")
        case .enable:
            // No extension we offer needs enabling (CONDSTORE would): none is enabled (RFC 5161 3.1).
            emit(.send("* ENABLED\r\n"))
            tagged(tag, "OK ENABLE completed")
        case .list(let reference, let pattern), .lsub(let reference, let pattern):
            let subscribedOnly = if case .lsub = command.kind { true } else { false }
            guard (reference + pattern).utf8.count <= ListPattern.maxLength else {
                return fail(tag, "BAD Pattern too long")
            }
            if pattern.isEmpty {
                // The hierarchy delimiter and root (RFC 3501 6.3.8).
                emit(.send("* \(subscribedOnly ? "LSUB" : "LIST") (\\Noselect) \".\" \"\"\r\n"))
                return tagged(tag, "OK \(subscribedOnly ? "LSUB" : "LIST") completed")
            }
            ask(
                .list(pattern: reference + pattern, subscribedOnly: subscribedOnly),
                .list(subscribedOnly: subscribedOnly),
                tag: tag, user: user)
        case .status(let name, let items):
            ask(.status(name), .status(name: name, items: items), tag: tag, user: user)
        case .create(let name):
            // A trailing delimiter only says the client means to put folders under it: ignored (RFC 3501
            // 6.3.3 MUST).
            let name = name.count > 1 && name.hasSuffix(".") ? String(name.dropLast()) : name
            ask(.create(name), .plain(command: "CREATE"), tag: tag, user: user)
        case .delete(let name): ask(.delete(name), .plain(command: "DELETE"), tag: tag, user: user)
        case .rename(let from, let to): ask(.rename(from, to: to), .plain(command: "RENAME"), tag: tag, user: user)
        case .subscribe(let name): ask(.subscribe(name, true), .plain(command: "SUBSCRIBE"), tag: tag, user: user)
        case .unsubscribe(let name): ask(.subscribe(name, false), .plain(command: "UNSUBSCRIBE"), tag: tag, user: user)
        case .append(let name, let flags, let date, let message):
            ask(
                .append(name, flags: Self.settable(flags), date: date?.secondsSince1970, message: message), .append,
                tag: tag, user: user)
        case .idle:
            state = .idling(tag: tag, user: user)
            emit(.send("+ idling\r\n"))
        case .noop, .check:
            guard selection != nil else {
                return tagged(tag, "OK \(command.kind == .check ? "CHECK" : "NOOP") completed")
            }
            ask(.refresh, .refresh(command: command.kind == .check ? "CHECK" : "NOOP"), tag: tag, user: user)
        default:
            guard let selection else { return fail(tag, "BAD Select a folder first") }
            handleSelected(command, selection: selection, user: user)
        }
    }

    /// Hands a request to the driver; `pending` says how to answer when it comes back.
    private mutating func ask(_ request: IMAPRequest, _ pending: Pending, tag: String, user: String) {
        state = .requesting(tag: tag, user: user, pending: pending)
        emit(.request(request))
    }

    private mutating func handleSelected(_ command: IMAPCommand, selection: Selection, user: String) {
        let tag = command.tag
        let view = selection.view
        switch command.kind {
        case .fetch(let set, let attributes, let uid):
            let chosen = messages(set, uid: uid, in: view)
            guard !chosen.isEmpty || uid else { return fail(tag, "BAD No such message") }
            var sequences: [UInt32: Int] = [:]
            for (sequence, message) in chosen { sequences[message.uid] = sequence }
            askFetch(
                sequences: sequences, attributes: attributes, remaining: chosen.map(\.1.uid),
                markSeen: !selection.readOnly && IMAPFetchResponse.setsSeen(attributes), tag: tag, user: user)
        case .store(let set, let mode, let flags, let silent, let uid):
            guard !selection.readOnly else { return fail(tag, "NO [READ-ONLY] The folder is read-only") }
            guard uid || Self.isWithin(set, count: view.messages.count) else { return fail(tag, "BAD No such message") }
            let uids = messages(set, uid: uid, in: view).map(\.1.uid)
            guard !uids.isEmpty else { return tagged(tag, "OK STORE completed") }
            ask(
                .storeFlags(uids: uids, mode, flags: Self.settable(flags)), .store(silent: silent, uid: uid), tag: tag,
                user: user)
        case .expunge, .uidExpunge, .close:
            let only: SequenceSet? = if case .uidExpunge(let set) = command.kind { set } else { nil }
            let deleted = view.messages.filter { message in
                message.flags.contains("\\Deleted")
                    && (only?.contains(message.uid, largest: view.messages.last?.uid ?? 0) ?? true)
            }
            if selection.readOnly || deleted.isEmpty {
                if command.kind == .close { self.selection = nil }
                if selection.readOnly && command.kind != .close {
                    return fail(tag, "NO [READ-ONLY] The folder is read-only")
                }
                return tagged(tag, "OK \(command.kind == .close ? "CLOSE" : "EXPUNGE") completed")
            }
            let isClose = command.kind == .close
            ask(
                .expunge(uids: deleted.map(\.uid)), .expunge(report: !isClose, command: isClose ? "CLOSE" : "EXPUNGE"),
                tag: tag, user: user)
        case .unselect:
            self.selection = nil
            tagged(tag, "OK UNSELECT completed")
        case .copy(let set, let target, let uid), .move(let set, let target, let uid):
            let move = if case .move = command.kind { true } else { false }
            guard !move || !selection.readOnly else { return fail(tag, "NO [READ-ONLY] The folder is read-only") }
            guard uid || Self.isWithin(set, count: view.messages.count) else { return fail(tag, "BAD No such message") }
            let uids = messages(set, uid: uid, in: view).map(\.1.uid)
            guard !uids.isEmpty else { return tagged(tag, "OK \(move ? "MOVE" : "COPY") completed (nothing to do)") }
            ask(
                .copy(uids: uids, to: target, move: move), .copy(move: move, command: move ? "MOVE" : "COPY"), tag: tag,
                user: user)
        case .search(let key, let uid):
            let all = view.messages.map(\.uid)
            guard !all.isEmpty else {
                emit(.send("* SEARCH\r\n"))
                return tagged(tag, "OK SEARCH completed")
            }
            askSearch(key: key, uid: uid, remaining: all, matches: [], octetsRead: 0, tag: tag, user: user)
        default:
            fail(tag, "NO Not supported yet")
        }
    }

    private mutating func askFetch(
        sequences: [UInt32: Int], attributes: [FetchAttribute], remaining: [UInt32], markSeen: Bool, tag: String,
        user: String
    ) {
        let content = IMAPFetchResponse.needsContent(attributes)
        let batch = Array(remaining.prefix(content ? Self.fetchBatch : 10 * Self.searchBatch))
        ask(
            .fetch(uids: batch, content: content, markSeen: markSeen),
            .fetch(
                sequences: sequences, attributes: attributes, remaining: Array(remaining.dropFirst(batch.count)),
                markSeen: markSeen),
            tag: tag, user: user)
    }

    private mutating func askSearch(
        key: SearchKey, uid: Bool, remaining: [UInt32], matches: [Int], octetsRead: Int, tag: String, user: String
    ) {
        let view = selection?.view ?? FolderView(uidValidity: 0, uidNext: 0, messages: [])
        let batch = Set(remaining.prefix(Self.searchBatch))
        let candidates = view.messages.enumerated().compactMap { index, message in
            batch.contains(message.uid) ? SearchEvaluator.Candidate(sequence: index + 1, message: message) : nil
        }
        ask(
            .search(
                SearchRequest(
                    key: key, candidates: candidates, largestUID: view.messages.last?.uid ?? 0,
                    count: view.messages.count)),
            .search(
                key: key, uid: uid, remaining: Array(remaining.dropFirst(batch.count)), matches: matches,
                octetsRead: octetsRead),
            tag: tag, user: user)
    }

    /// (sequence number, message) for a set of sequence numbers or UIDs (RFC 3501 6.4.8: UIDs not there are
    /// left out).
    func messages(_ set: SequenceSet, uid: Bool, in view: FolderView) -> [(Int, MessageView)] {
        guard let last = view.messages.last else { return [] }
        let ranges = set.resolved(largest: uid ? last.uid : UInt32(view.messages.count))
        return view.messages.enumerated().compactMap { index, message in
            let key = uid ? message.uid : UInt32(index + 1)
            return ranges.contains { $0.contains(key) } ? (index + 1, message) : nil
        }
    }

    /// Every number of a sequence set names a message (RFC 3501 6.4.5: a sequence number beyond the folder
    /// is an error; `*` is the last one). UID sets may name UIDs that are gone.
    static func isWithin(_ set: SequenceSet, count: Int) -> Bool {
        set.ranges.allSatisfy { range in
            [range.first, range.last].allSatisfy { bound in
                if case .number(let number) = bound { return number >= 1 && number <= count }
                return count > 0
            }
        }
    }

    /// The flags a client may set: system flags, spelled canonically, and keywords (`$Junk`, `NonJunk`).
    /// `\Recent` and system flags IMAP does not define are dropped (RFC 3501 2.3.2).
    static func settable(_ flags: [String]) -> [String] {
        flags.compactMap { flag in
            if isSystemFlag(flag) { return canonicalFlag(flag) }
            return flag.hasPrefix("\\") ? nil : flag
        }
    }

    static func isSystemFlag(_ flag: String) -> Bool {
        flagNames.split(separator: " ").contains { $0.lowercased() == flag.lowercased() }
    }

    static func canonicalFlag(_ flag: String) -> String {
        flagNames.split(separator: " ").map(String.init).first { $0.lowercased() == flag.lowercased() } ?? flag
    }

    // MARK: Results

    public mutating func requestFinished(_ result: IMAPResult) {
        guard case .requesting(let tag, let user, let pending) = state else { return }
        state = .authenticated(user: user)
        switch (pending, result) {
        case (.announce(let text), .done):
            // The command itself succeeded; only the look afterwards failed. The next one reports it all.
            tagged(tag, text)
        case (.appendTarget(let size), .done(nil)):
            emit(.appendBegin(size: size))
            emit(.send("+ Ready for literal data\r\n"))
        case (.appendTarget, .done(let refusal?)):
            // The literal is never sent: the command ends here.
            streamingAppend = nil
            framer.refuseStream()
            fail(tag, "NO " + refusal)
        case (_, .done(let refusal?)):
            fail(tag, "NO " + refusal)
        case (.select(let name, let readOnly), .selected(let view)):
            selection = Selection(name: name, readOnly: readOnly, view: view)
            announce(view)
            tagged(tag, "OK [\(readOnly ? "READ-ONLY" : "READ-WRITE")] \(readOnly ? "EXAMINE" : "SELECT") completed")
        case (.list(let subscribedOnly), .listed(let entries)):
            let command = subscribedOnly ? "LSUB" : "LIST"
            for entry in entries {
                let attributes = entry.attributes.joined(separator: " ")
                emit(.send("* \(command) (\(attributes)) \".\" \(IMAPStructureEncoder.string(entry.name))\r\n"))
            }
            tagged(tag, "OK \(command) completed")
        case (.status(let name, let items), .status(let view)):
            let values = items.map { item -> String in
                switch item {
                case .messages: "MESSAGES \(view.messages.count)"
                case .recent: "RECENT \(view.messages.filter(\.recent).count)"
                case .uidNext: "UIDNEXT \(view.uidNext)"
                case .uidValidity: "UIDVALIDITY \(view.uidValidity)"
                case .unseen: "UNSEEN \(view.messages.filter { !$0.flags.contains("\\Seen") }.count)"
                }
            }
            emit(.send("* STATUS \(IMAPStructureEncoder.string(name)) (\(values.joined(separator: " ")))\r\n"))
            tagged(tag, "OK STATUS completed")
        case (.plain(let command), .done(nil)):
            tagged(tag, "OK \(command) completed")
        case (.fetch(let sequences, let attributes, let remaining, let markSeen), .fetched(let messages)):
            for fetched in messages {
                guard let sequence = sequences[fetched.uid], var message = selection?.view.messages[sequence - 1]
                else { continue }
                emit(
                    .sendOctets(
                        IMAPFetchResponse.render(
                            sequence: sequence, message: message, fetched: fetched, attributes: attributes)))
                if let newFlags = fetched.newFlags {
                    message.flags = newFlags
                    selection?.view.messages[sequence - 1] = message
                }
            }
            if !remaining.isEmpty {
                return askFetch(
                    sequences: sequences, attributes: attributes, remaining: remaining, markSeen: markSeen, tag: tag,
                    user: user)
            }
            tagged(tag, "OK FETCH completed")
        case (.store(let silent, let uid), .flagsSet(let flags)):
            // A keyword new to the folder is a newly defined flag: say so before using it (RFC 3501 7.2.6).
            if var view = selection?.view {
                var known = Set(view.keywords.map { $0.lowercased() })
                for name in flags.values.joined()
                where !name.hasPrefix("\\") && known.insert(name.lowercased()).inserted {
                    view.keywords.append(name)
                }
                if view.keywords != selection?.view.keywords {
                    selection?.view.keywords = view.keywords
                    emit(.send(flagLines(view).map { $0 + "\r\n" }.joined()))
                }
            }
            for (index, message) in (selection?.view.messages ?? []).enumerated() {
                guard let newFlags = flags[message.uid] else { continue }
                selection?.view.messages[index].flags = newFlags
                if !silent {
                    // UID STORE's responses carry the UID (RFC 3501 6.4.8).
                    let uidItem = uid ? "UID \(message.uid) " : ""
                    let list = IMAPFetchResponse.flags(newFlags, recent: message.recent)
                    emit(.send("* \(index + 1) FETCH (\(uidItem)FLAGS (\(list)))\r\n"))
                }
            }
            tagged(tag, "OK STORE completed")
        case (.expunge(let report, let command), .expunged(let uids)):
            let gone = Set(uids)
            // Highest first, so no number shifts under the ones still to report.
            for index in (selection?.view.messages ?? []).indices.reversed()
            where gone.contains(selection!.view.messages[index].uid) {
                selection?.view.messages.remove(at: index)
                if report { emit(.send("* \(index + 1) EXPUNGE\r\n")) }
            }
            if command == "CLOSE" { selection = nil }
            tagged(tag, "OK \(command) completed")
        case (.search(let key, let uid, let remaining, var matches, let octetsRead), .searched(let found, let read)):
            let view = selection?.view ?? FolderView(uidValidity: 0, uidNext: 0, messages: [])
            var sequences: [UInt32: Int] = [:]
            for (index, message) in view.messages.enumerated() { sequences[message.uid] = index + 1 }
            for found in found {
                guard let sequence = sequences[found] else { continue }
                matches.append(uid ? Int(found) : sequence)
            }
            if octetsRead + read > configuration.maxSearchOctets {
                fail(tag, "NO [LIMIT] SEARCH would read too much of the mailbox; narrow it (a date, a flag)")
            } else if !remaining.isEmpty {
                return askSearch(
                    key: key, uid: uid, remaining: remaining, matches: matches, octetsRead: octetsRead + read, tag: tag,
                    user: user)
            } else {
                emit(.send("* SEARCH" + matches.map { " \($0)" }.joined() + "\r\n"))
                tagged(tag, "OK SEARCH completed")
            }
        case (.append, .appended(let validity, let uid)):
            return complete(tag, user: user, "OK [APPENDUID \(validity) \(uid)] APPEND completed")
        case (.copy(let move, let command), .copied(let validity, let source, let destination)):
            let code = "COPYUID \(validity) \(Self.uidList(source)) \(Self.uidList(destination))"
            guard move else { return complete(tag, user: user, "OK [\(code)] \(command) completed") }
            // MOVE: the COPYUID comes untagged, then the expunges (RFC 6851 4.3).
            emit(.send("* OK [\(code)] Moved\r\n"))
            let gone = Set(source)
            for index in (selection?.view.messages ?? []).indices.reversed()
            where gone.contains(selection!.view.messages[index].uid) {
                selection?.view.messages.remove(at: index)
                emit(.send("* \(index + 1) EXPUNGE\r\n"))
            }
            return complete(tag, user: user, "OK \(command) completed")
        case (.announce(let text), .refreshed(let view)):
            update(to: view)
            tagged(tag, text)
        case (.idle, .refreshed(let view)):
            update(to: view)
            state = .idling(tag: tag, user: user)
        case (.refresh(let command), .refreshed(let view)):
            update(to: view)
            tagged(tag, "OK \(command) completed")
        default:
            fail(tag, "NO Internal error: unexpected result")
        }
        processInput()
    }

    /// Completes a command that may have changed the selected folder (APPEND, COPY, MOVE into it): with a
    /// folder selected, its changes are looked for and reported first, so the client's next FETCH, SEARCH
    /// or COPY of the new message works (RFC 3501 5.2: size changes observed MUST be sent).
    private mutating func complete(_ tag: String, user: String, _ text: String) {
        guard selection != nil else {
            tagged(tag, text)
            return processInput()
        }
        ask(.refresh, .announce(text: text), tag: tag, user: user)
    }

    static func uidList(_ uids: [UInt32]) -> String {
        uids.map(String.init).joined(separator: ",")
    }

    // MARK: IDLE

    /// While idling, the one line allowed is DONE (RFC 2177 3).
    mutating func idleInput(_ segments: [IMAPSegment], tag: String, user: String) {
        state = .authenticated(user: user)
        guard segments.count == 1, case .line(let line) = segments[0],
            String(decoding: line, as: UTF8.self).uppercased() == "DONE"
        else { return fail(tag, "BAD Expected DONE") }
        tagged(tag, "OK IDLE terminated")
    }

    /// The driver's poll while the client idles: ask for the folder's state, to push what changed. Does
    /// nothing unless the session idles in a selected folder.
    public mutating func idlePoll() {
        guard case .idling(let tag, let user) = state, selection != nil else { return }
        ask(.refresh, .idle, tag: tag, user: user)
    }

    public var isIdling: Bool {
        if case .idling = state { return true }
        if case .requesting(_, _, .idle) = state { return true }
        return false
    }

    /// The untagged responses SELECT and EXAMINE owe (RFC 3501 6.3.1).
    private mutating func announce(_ view: FolderView) {
        var lines =
            flagLines(view) + [
                "* \(view.messages.count) EXISTS",
                "* \(view.messages.filter(\.recent).count) RECENT",
                "* OK [UIDVALIDITY \(view.uidValidity)] UIDs valid",
                "* OK [UIDNEXT \(view.uidNext)] Predicted next UID",
            ]
        if let unseen = view.messages.firstIndex(where: { !$0.flags.contains("\\Seen") }) {
            lines.insert("* OK [UNSEEN \(unseen + 1)] First unseen", at: 4)
        }
        emit(.send(lines.map { $0 + "\r\n" }.joined()))
    }

    /// FLAGS and PERMANENTFLAGS: the system flags and the folder's keywords; `\*` says new keywords are
    /// kept, unless the folder has no letter left for one.
    private func flagLines(_ view: FolderView) -> [String] {
        let defined = ([Self.flagNames] + view.keywords).joined(separator: " ")
        return [
            "* FLAGS (\(defined))",
            "* OK [PERMANENTFLAGS (\(defined)\(view.keywordsFull ? "" : " \\*"))] Flags permitted",
        ]
    }

    /// Tells the client what changed since its view: expunges (highest first), flag changes, new messages.
    private mutating func update(to view: FolderView) {
        guard var selection else { return }
        if view.keywords != selection.view.keywords || view.keywordsFull != selection.view.keywordsFull {
            // A new keyword: the defined flags changed (RFC 3501 7.2.6).
            emit(.send(flagLines(view).map { $0 + "\r\n" }.joined()))
            selection.view.keywords = view.keywords
            selection.view.keywordsFull = view.keywordsFull
        }
        let present = Set(view.messages.map(\.uid))
        for index in selection.view.messages.indices.reversed()
        where !present.contains(selection.view.messages[index].uid) {
            selection.view.messages.remove(at: index)
            emit(.send("* \(index + 1) EXPUNGE\r\n"))
        }
        var byUID: [UInt32: MessageView] = [:]
        for message in view.messages { byUID[message.uid] = message }
        for index in selection.view.messages.indices {
            let old = selection.view.messages[index]
            if let new = byUID[old.uid], Set(new.flags) != Set(old.flags) {
                selection.view.messages[index].flags = new.flags
                emit(
                    .send(
                        "* \(index + 1) FETCH (FLAGS (\(IMAPFetchResponse.flags(new.flags, recent: old.recent))))\r\n"))
            }
        }
        let known = selection.view.messages.last?.uid ?? 0
        let added = view.messages.filter { $0.uid > known }
        if !added.isEmpty {
            selection.view.messages += added
            emit(.send("* \(selection.view.messages.count) EXISTS\r\n"))
            emit(.send("* \(selection.view.messages.filter(\.recent).count) RECENT\r\n"))
        }
        selection.view.uidNext = view.uidNext
        self.selection = selection
    }
}

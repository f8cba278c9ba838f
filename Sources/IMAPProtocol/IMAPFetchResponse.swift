/// Writes one `* N FETCH (...)` response (RFC 3501 7.4.2) from the message's view, what the store loaded,
/// and the attributes asked for. Body sections come from the stored octets exactly; the MIME structure is
/// parsed only when an attribute needs it.
public enum IMAPFetchResponse {
    /// Whether any of these attributes needs the message's content.
    public static func needsContent(_ attributes: [FetchAttribute]) -> Bool {
        attributes.contains {
            switch $0 {
            case .flags, .uid, .rfc822Size, .internalDate: false
            default: true
            }
        }
    }

    /// Whether fetching these sets \Seen (RFC 3501 6.4.5: BODY[...] without .PEEK, RFC822, RFC822.TEXT).
    public static func setsSeen(_ attributes: [FetchAttribute]) -> Bool {
        attributes.contains {
            switch $0 {
            case .rfc822, .rfc822Text: true
            case .section(_, _, let peek): !peek
            default: false
            }
        }
    }

    /// The response's octets: literals carry the stored octets as they are, 8-bit or not.
    public static func render(
        sequence: Int, message: MessageView, fetched: FetchedMessage?, attributes: [FetchAttribute]
    ) -> [UInt8] {
        let content = fetched?.content ?? []
        var parsed: MIMEPart?
        func structure() -> MIMEPart {
            if let parsed { return parsed }
            let part = MIMEPart.parse(content)
            parsed = part
            return part
        }
        var items: [[UInt8]] = []
        var flagsSent = false
        for attribute in attributes {
            switch attribute {
            case .uid: items.append(Array("UID \(message.uid)".utf8))
            case .flags:
                items.append(Array("FLAGS (\(flags(fetched?.newFlags ?? message.flags, recent: message.recent)))".utf8))
                flagsSent = true
            case .rfc822Size: items.append(Array("RFC822.SIZE \(message.size)".utf8))
            case .internalDate: items.append(Array("INTERNALDATE \"\(internalDate(fetched?.internalDate ?? 0))\"".utf8))
            case .envelope: items.append(Array(("ENVELOPE " + IMAPStructureEncoder.envelope(structure())).utf8))
            case .body:
                items.append(Array(("BODY " + IMAPStructureEncoder.bodyStructure(structure(), extended: false)).utf8))
            case .bodyStructure:
                items.append(
                    Array(("BODYSTRUCTURE " + IMAPStructureEncoder.bodyStructure(structure(), extended: true)).utf8))
            case .rfc822: items.append(literal("RFC822", content[...]))
            case .rfc822Header: items.append(literal("RFC822.HEADER", content[structure().header]))
            case .rfc822Text: items.append(literal("RFC822.TEXT", content[structure().body]))
            case .section(let section, let partial, _):
                var octets = sectionOctets(section, content: content, structure: structure)
                var name = "BODY[" + sectionName(section) + "]"
                if let partial {
                    let start = min(partial.origin, octets.count)
                    octets = Array(octets[start..<min(start + partial.count, octets.count)])
                    name += "<\(partial.origin)>"
                }
                items.append(literal(name, octets[...]))
            }
        }
        // A fetch that set \Seen reports the new flags even if they were not asked for (RFC 3501 6.4.5).
        if let newFlags = fetched?.newFlags, !flagsSent {
            items.append(Array("FLAGS (\(flags(newFlags, recent: message.recent)))".utf8))
        }
        return Array("* \(sequence) FETCH (".utf8) + Array(items.joined(separator: [32])) + Array(")\r\n".utf8)
    }

    static func flags(_ flags: [String], recent: Bool) -> String {
        (flags + (recent ? ["\\Recent"] : [])).joined(separator: " ")
    }

    static func literal(_ name: String, _ octets: ArraySlice<UInt8>) -> [UInt8] {
        Array("\(name) {\(octets.count)}\r\n".utf8) + octets
    }

    /// `dd-Mon-yyyy hh:mm:ss +0000` (RFC 3501 date-time), in UTC.
    static func internalDate(_ seconds: Int) -> String {
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let time = seconds - days * 86400
        // Howard Hinnant's civil_from_days.
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let dayOfEra = z - era * 146097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return
            "\(two(day))-\(IMAPDate.months[month - 1])-\(year) \(two(time / 3600)):\(two(time / 60 % 60)):\(two(time % 60)) +0000"
    }

    static func sectionName(_ section: Section) -> String {
        var parts = section.part.map(String.init)
        switch section.text {
        case nil: break
        case .header: parts.append("HEADER")
        case .text: parts.append("TEXT")
        case .mime: parts.append("MIME")
        case .headerFields(let names): parts.append("HEADER.FIELDS (" + names.joined(separator: " ") + ")")
        case .headerFieldsNot(let names): parts.append("HEADER.FIELDS.NOT (" + names.joined(separator: " ") + ")")
        }
        return parts.joined(separator: ".")
    }

    /// The octets of a body section; empty when the part does not exist (RFC 3501 leaves that to us).
    static func sectionOctets(_ section: Section, content: [UInt8], structure: () -> MIMEPart) -> [UInt8] {
        if section.part.isEmpty && section.text == nil { return content }
        guard let part = structure().part(at: section.part) else { return [] }
        // HEADER and TEXT of a message/rfc822 part are its encapsulated message's (RFC 3501 6.4.5).
        let message = section.part.isEmpty ? part : (part.isMessage ? part.children.first ?? part : part)
        switch section.text {
        case nil:
            return Array(content[part.body])
        case .mime:
            return Array(content[part.header])
        case .header:
            return Array(content[message.header])
        case .text:
            return Array(content[message.body])
        case .headerFields(let names):
            return headerFields(content, message.header, keep: Set(names.map { $0.lowercased() }), matching: true)
        case .headerFieldsNot(let names):
            return headerFields(content, message.header, keep: Set(names.map { $0.lowercased() }), matching: false)
        }
    }

    /// The header's fields (with their folded lines) whose names are (or are not) in `keep`, then the
    /// blank line.
    static func headerFields(_ content: [UInt8], _ header: Range<Int>, keep: Set<String>, matching: Bool) -> [UInt8] {
        var output: [UInt8] = []
        var index = header.lowerBound
        var including = false
        while index < header.upperBound {
            var end = index
            while end < header.upperBound && content[end] != 10 { end += 1 }
            let next = min(end + 1, header.upperBound)
            let line = content[index..<next]
            if line.first == 13 || line.first == 10 { break }
            if line.first != 32 && line.first != 9 {
                let name = line.prefix { $0 != UInt8(ascii: ":") }
                including = keep.contains(String(decoding: name, as: UTF8.self).lowercased()) == matching
            }
            if including { output += line }
            index = next
        }
        return output + [13, 10]
    }
}

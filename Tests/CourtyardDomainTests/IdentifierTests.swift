import Foundation
import PropertyBased
import Testing

@testable import CourtyardDomain

@Suite("Identifiers")
struct IdentifierTests {
    @Test("ids are written exactly as Foundation's UUID writes them, in lowercase")
    func canonicalText() async {
        await propertyCheck(count: 500, input: Gen.uint8().array(of: 16...16)) { bytes in
            let uuid = UUID(
                uuid: (
                    bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                    bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
                ))
            #expect(Identifier.canonical(bytes) == uuid.uuidString.lowercased())
        }
    }

    @Test("a sequence's ids are valid UUIDv7s that sort in the order they were made, within one millisecond")
    func sequenceIsOrdered() {
        var sequence = IdentifierSequence(at: Date(timeIntervalSince1970: 1_795_312_800))
        var previous = ""
        for _ in 0..<10_000 {
            let id = sequence.next()
            #expect(Identifier.isValid(id))
            #expect(Array(id)[14] == "7", "version 7")
            #expect("89ab".contains(Array(id)[19]), "RFC 9562 variant")
            #expect(id > previous)
            previous = id
        }
        #expect(previous.hasPrefix("01a20"), "the timestamp of 2026-11-22 leads")
    }
}

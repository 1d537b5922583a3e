import CourtyardDomain
import Foundation
import Testing

@Suite("Identifiers")
struct IdentifierTests {
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

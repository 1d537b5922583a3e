import CourtyardDomain
import CourtyardLedger
import Foundation
import Testing

@Suite("Account id schemes")
struct AccountIdSchemeTests {
    let community = "01a24dd7-0000-7000-8000-000000000001"
    let house = "01a24dd7-fb38-7007-8547-8d802d6ce158"

    @Test("hash-only ids are what the ledger has always derived (known answer, computed independently with Python's hashlib)")
    func hashOnlyKnownAnswer() {
        #expect(
            AccountIdScheme.hashOnly.id(communityId: "c1", kind: .wallet, owner: "h1", purpose: "water") == "1c7d8e7a-3370-8c32-9598-8a9f93f45ab0")
    }

    @Test("owner-ordered ids begin with the owner's first eight bytes, then a digest of the whole key (known answer)")
    func ownerOrderedKnownAnswer() {
        let id = AccountIdScheme.ownerOrdered.id(communityId: community, kind: .wallet, owner: house, purpose: "water")
        #expect(id == "01a24dd7-fb38-8007-ba27-26465ef0d0b3")
        #expect(AccountKey.wallet(community, house: house, purpose: "water").id == id, "owner-ordered is the default")
        // Community-level accounts begin with the community's bytes.
        #expect(AccountKey.community(community, .clearing, purpose: "cash").id.hasPrefix("01a24dd7-0000-8000-"))
    }

    @Test("the accounts of houses created one after another sort in the houses' order")
    func accountsSortLikeTheirHouses() {
        var random = SplitMix64(seed: 7)
        let start = Date(timeIntervalSince1970: 1_790_000_000)
        // Five milliseconds apart: two houses of the same millisecond are ordered by their random bits, not by time.
        let houses = (0..<2_000).map { index in Identifier.uuidV7(at: start.addingTimeInterval(Double(index) / 200), using: &random) }
        #expect(houses == houses.sorted() ? true : false)
        for purpose in ["fees", "electricity"] {
            let ids = houses.map { AccountKey(communityId: community, kind: .receivable, owner: $0, purpose: purpose).id }
            #expect(ids == ids.sorted() ? true : false, "receivables (\(purpose)) sort like their houses")
            #expect(Set(ids).count == houses.count)
        }
        // One house's accounts differ from each other only in the digest.
        let wallets = AccountKind.walletPurposesForTests.map { AccountKey.wallet(community, house: houses[0], purpose: $0).id }
        #expect(Set(wallets).count == wallets.count)
        #expect(Set(wallets.map { $0.prefix(19) }).count == 1)
    }

    @Test("owners that are not UUIDs fall back to the community's bytes, or to the digest alone")
    func fallbacks() {
        let maintenance = AccountIdScheme.ownerOrdered.id(communityId: community, kind: .maintenanceFund, owner: "building-7", purpose: "main")
        #expect(maintenance.hasPrefix("01a24dd7-0000-8000-"))
        let plain = AccountIdScheme.ownerOrdered.id(communityId: "c1", kind: .wallet, owner: "h1", purpose: "water")
        #expect(plain.count == 36 && plain != AccountIdScheme.hashOnly.id(communityId: "c1", kind: .wallet, owner: "h1", purpose: "water"))
        // Not quite a UUID: a letter out of range, a hyphen out of place, one character short.
        for owner in ["01a24dd7-fb38-7007-8547-8d802d6ce15g", "01a24dd7f-b38-7007-8547-8d802d6ce158", "01a24dd7-fb38-7007-8547-8d802d6ce15"] {
            #expect(!AccountIdScheme.ownerOrdered.id(communityId: "c1", kind: .wallet, owner: owner, purpose: "water").hasPrefix("01a24dd7"))
        }
        #expect(Identifier.isValid(maintenance) && Identifier.isValid(plain))
    }

    @Test("a community registered as hash-only derives hash-only ids for every key, old or new")
    func registeredCommunitiesKeepTheirScheme() {
        let legacy = "01a24dd7-0000-7000-8000-00000000beef"
        let before = AccountKey.wallet(legacy, house: house, purpose: "gas").id
        #expect(before == AccountIdScheme.ownerOrdered.id(communityId: legacy, kind: .wallet, owner: house, purpose: "gas"))
        AccountIdScheme.hashOnlyCommunities.register([legacy])
        AccountIdScheme.hashOnlyCommunities.register([legacy])
        #expect(AccountIdScheme.hashOnlyCommunities.contains(legacy))
        for purpose in ["gas", "water"] {
            #expect(
                AccountKey.wallet(legacy, house: house, purpose: purpose).id
                    == AccountIdScheme.hashOnly.id(communityId: legacy, kind: .wallet, owner: house, purpose: purpose))
        }
        #expect(AccountKey.wallet(community, house: house, purpose: "water").id.hasPrefix("01a24dd7-fb38-8007-"), "others are unaffected")
    }
}

extension AccountKind {
    static var walletPurposesForTests: [String] { ["electricity", "water", "gas", "heating", "parking", "property_fee", "general"] }
}

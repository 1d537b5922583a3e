import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and verification, run on NIO's thread pool so that the deliberate slowness never blocks an event loop.
public enum Passwords {
    /// Decoy hashes by cost, made once each.
    private static let decoys = DecoyHashes()

    /// A hash of a placeholder password at `cost`, verified against when a login is unknown so that both paths take as
    /// long: the cost must be that of real hashes (a cost-4 decoy next to cost-12 hashes answered unknown logins in
    /// 3 ms and known ones in 340 ms).
    static func decoyHash(cost: UInt8) async -> String {
        await decoys.hash(cost: cost)
    }

    public static func hash(_ password: String, cost: UInt8) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Why a new password is refused, or `nil` when it is acceptable.
    static func weakness(_ password: String) -> String? {
        if password.count < 8 { return "password must be at least 8 characters" }
        if password.utf8.count > 72 { return "password must be at most 72 bytes (bcrypt's limit)" }
        return nil
    }
}

/// The decoy hash per bcrypt cost, computed on first use off the event loop.
private actor DecoyHashes {
    private var hashes: [UInt8: String] = [:]

    func hash(cost: UInt8) async -> String {
        if let known = hashes[cost] { return known }
        let made = (try? await Passwords.hash("courtyard-decoy-password", cost: cost)) ?? Bcrypt.hash("courtyard-decoy-password", cost: cost)
        hashes[cost] = made
        return made
    }
}

import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and verification, run on NIO's thread pool so that the deliberate slowness never blocks an event loop.
public enum Passwords {
    /// A hash of the placeholder password, verified against when a login is unknown so both paths take as long.
    static let decoyHash = Bcrypt.hash("courtyard-decoy-password", cost: 4)

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

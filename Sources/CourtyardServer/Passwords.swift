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
    ///
    /// At least 8 characters and at most bcrypt's 72 bytes; not one of the passwords attackers try first (the commonest
    /// in published leak lists, Chinese and international); not the login itself; not one character repeated.
    static func weakness(_ password: String, login: String? = nil) -> String? {
        if password.count < 8 { return "password must be at least 8 characters" }
        if password.utf8.count > 72 { return "password must be at most 72 bytes (bcrypt's limit)" }
        let folded = password.lowercased()
        if commonPasswords.contains(folded) { return "this password is among the most common ones; choose another" }
        if let login, !login.isEmpty, folded.contains(login.lowercased()) { return "password must not contain the login" }
        if Set(folded).count <= 2 { return "password must not be one or two characters repeated" }
        if Self.isRun(folded) { return "password must not be a run of consecutive keys or digits" }
        return nil
    }

    /// Runs like "12345678", "87654321" or "abcdefgh".
    static func isRun(_ text: String) -> Bool {
        let scalars = text.unicodeScalars.map(\.value)
        guard scalars.count >= 2 else { return false }
        let step = Int64(scalars[1]) - Int64(scalars[0])
        guard step == 1 || step == -1 else { return false }
        return zip(scalars, scalars.dropFirst()).allSatisfy { Int64($1) - Int64($0) == step }
    }

    /// Passwords of 8 characters or more that lead published leak lists (SplashData/NordPass yearly lists, the 2011 CSDN
    /// and Tianya leaks): refused whatever their case.
    static let commonPasswords: Set<String> = [
        "password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword", "12345678", "123456789", "1234567890",
        "12345678910", "11111111", "00000000", "88888888", "66666666", "99999999", "12341234", "11223344", "147258369",
        "987654321", "qwertyuiop", "qwerty123", "qwe123456", "1q2w3e4r", "1q2w3e4r5t", "1qaz2wsx", "qazwsx123", "zxcvbnm123",
        "asdfghjkl", "1234qwer", "qwer1234", "a1234567", "a12345678", "a123456789", "aa123456", "aa12345678", "abc12345",
        "abc123456", "abcd1234", "asd123456", "zxc123456", "qq123456", "woaini1314", "woaini520", "5201314520", "1314520520",
        "iloveyou", "iloveyou1", "sunshine", "princess", "football", "baseball", "superman", "trustno1", "welcome1", "welcome123",
        "letmein1", "admin123", "admin888", "admin1234", "administrator", "root1234", "changeme", "default1", "computer",
        "internet", "dearbook", "wangyut2", "qwertyui", "asdfasdf", "zaq12wsx", "1qazxsw2", "q1w2e3r4", "a1b2c3d4", "iloveyou2",
        "courtyard", "courtyard1", "courtyard123", "property", "wuye1234", "wuye123456", "xiaoqu123",
    ]
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

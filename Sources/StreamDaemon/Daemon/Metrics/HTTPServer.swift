import CMicroHTTPD
import Foundation

/// A small HTTP server on libmicrohttpd's own polling thread, for `/metrics` and `/healthz`.
/// Read-only: GET and HEAD only, no request bodies.
final class HTTPServer: @unchecked Sendable {
    struct Response: Sendable {
        var status: Int
        var contentType: String
        var body: [UInt8]
    }

    typealias Handler = @Sendable (_ path: String) -> Response

    struct StartError: Error, CustomStringConvertible {
        let description: String
    }

    private var daemon: OpaquePointer?
    private let handler: Handler
    /// The port actually bound (differs from the requested one when that was 0).
    private(set) var port: Int = 0
    let address: String

    init(address: String, port: Int, handler: @escaping Handler) throws(StartError) {
        self.handler = handler
        self.address = address
        var storage = sockaddr_storage()
        var v4 = sockaddr_in(), v6 = sockaddr_in6()
        if inet_pton(AF_INET, address, &v4.sin_addr) == 1 {
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v4) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        } else if inet_pton(AF_INET6, address, &v6.sin6_addr) == 1 {
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
            withUnsafeBytes(of: v6) { bytes in withUnsafeMutableBytes(of: &storage) { $0.copyMemory(from: bytes) } }
        } else {
            throw StartError(description: "\(address) is not a numeric IP address")
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        daemon = withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { qrt_mhd_start($0, httpServerAccess, context) }
        }
        guard let daemon else {
            throw StartError(description: "cannot listen on \(address):\(port) (\(String(cString: strerror(errno))))")
        }
        self.port = Int(qrt_mhd_port(daemon))
    }

    deinit { stop() }

    /// Closes the socket and ends the server's thread.
    func stop() {
        if let daemon {
            MHD_stop_daemon(daemon)
            self.daemon = nil
        }
    }

    fileprivate func respond(method: String, path: String) -> Response {
        guard method == "GET" || method == "HEAD" else {
            return Response(status: 405, contentType: "text/plain; charset=utf-8", body: Array("method not allowed\n".utf8))
        }
        return handler(path)
    }
}

private func httpServerAccess(
    context: UnsafeMutableRawPointer?, connection: OpaquePointer?, url: UnsafePointer<CChar>?,
    method: UnsafePointer<CChar>?, version: UnsafePointer<CChar>?, uploadData: UnsafePointer<CChar>?,
    uploadSize: UnsafeMutablePointer<Int>?, state: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
) -> MHD_Result {
    guard let context, let connection, let url, let method else { return MHD_Result(rawValue: 0)! }
    // Refuse request bodies: this server only serves reads.
    if let uploadSize, uploadSize.pointee != 0 { return MHD_Result(rawValue: 0)! }
    let server = Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue()
    let methodName = String(cString: method)
    var path = String(cString: url)
    if let query = path.firstIndex(of: "?") { path = String(path[..<query]) }
    let response = server.respond(method: methodName, path: path)
    let body = methodName == "HEAD" ? [] : response.body
    let handle = body.withUnsafeBytes { bytes in
        MHD_create_response_from_buffer(bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress),
                                        MHD_ResponseMemoryMode(rawValue: 2)!)
    }
    guard let handle else { return MHD_Result(rawValue: 0)! }
    MHD_add_response_header(handle, "Content-Type", response.contentType)
    MHD_add_response_header(handle, "Cache-Control", "no-store")
    let result = MHD_queue_response(connection, UInt32(response.status), handle)
    MHD_destroy_response(handle)
    return result
}

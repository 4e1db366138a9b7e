import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Loopback helpers for network tests: free ports, a listener that accepts and stays silent,
/// and an `ffmpeg -listen 1` HTTP server.
enum Loopback {
    /// Ends a helper process: SIGTERM, then SIGKILL if it is still there after `grace` seconds
    /// (children of test threads can start with SIGTERM blocked).
    static func terminate(_ process: Process, grace: Double = 3) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A TCP port on 127.0.0.1 that was free a moment ago.
    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupport.CLIError(description: "socket failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw TestSupport.CLIError(description: "bind failed") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// A listening socket that accepts connections (the kernel's backlog) and never answers.
    final class SilentListener {
        let fd: Int32
        let port: UInt16

        init() throws {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = 0
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Bool in
                    bind(fd, pointer, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, pointer, &length) == 0
                }
            }
            guard fd >= 0, ok else {
                close(fd)
                throw TestSupport.CLIError(description: "listen failed")
            }
            self.fd = fd
            port = UInt16(bigEndian: address.sin_port)
        }

        deinit { close(fd) }
    }

    /// A plain HTTP/1.0 file server (Python) whose first response stops after `cutFirstAt`
    /// bytes, as if the connection dropped; later responses are whole.
    final class FlakyFileServer {
        let process = Process()
        static let script = """
            import http.server, os, sys
            root, port, cut = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
            served = 0
            class Handler(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    global served
                    served += 1
                    with open(os.path.join(root, os.path.basename(self.path)), 'rb') as f:
                        data = f.read()
                    self.send_response(200)
                    self.send_header('Content-Type', 'video/mp4')
                    self.send_header('Content-Length', str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:cut] if served == 1 else data)
                def log_message(self, *args):
                    pass
            http.server.HTTPServer(('127.0.0.1', port), Handler).serve_forever()
            """

        init(directory: String, port: UInt16, cutFirstAt: Int) throws {
            process.executableURL = URL(fileURLWithPath: TestSupport.executable("python3")!)
            process.arguments = ["-c", Self.script, directory, String(port), String(cutFirstAt)]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        deinit { Loopback.terminate(process) }
    }

    /// tools/fixtures/rtsp_server.py: RTSP over TCP or UDP for one client at a time, relaying
    /// `ffmpeg -f rtp` packets of a clip looped in real time.
    final class RTSPServer {
        let process = Process()

        init(file: String, port: UInt16) throws {
            process.executableURL = URL(fileURLWithPath: TestSupport.executable("python3")!)
            process.arguments = [
                TestSupport.repoRoot.appendingPathComponent("tools/fixtures/rtsp_server.py").path, file, String(port),
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// SIGTERM (the server takes its ffmpeg with it), SIGKILL after 3 s.
        func kill() {
            Loopback.terminate(process)
        }

        deinit { kill() }
    }

    /// `ffmpeg -re -stream_loop -1 -i FILE -c copy -f mpegts -listen 1 http://127.0.0.1:PORT`:
    /// serves one client, in real time, until killed.
    final class FFmpegHTTPServer {
        let process = Process()

        init(file: String, port: UInt16) throws {
            process.executableURL = URL(fileURLWithPath: TestSupport.ffmpeg!)
            process.arguments = [
                "-v", "quiet", "-nostdin", "-re", "-stream_loop", "-1", "-i", file,
                "-map", "0:v", "-c", "copy", "-f", "mpegts", "-listen", "1", "http://127.0.0.1:\(port)/live.ts",
            ]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// SIGKILL, as if the camera lost power; waits for the process to go.
        func kill() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }

        /// SIGSTOP: the connection stays open and goes silent.
        func freeze() {
            if process.isRunning { Glibc.kill(process.processIdentifier, SIGSTOP) }
        }

        deinit { kill() }
    }
}

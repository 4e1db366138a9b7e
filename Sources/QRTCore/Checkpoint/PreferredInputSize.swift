import Foundation

/// The square input size a model was trained or calibrated at, where its files record one: a
/// Hugging Face directory's `preprocessor_config.json` (`"size": {"height": H, "width": W}`, the
/// RTDetrImageProcessor layout) or a `.qrt` artifact's `input_size` metadata. Commands use it when
/// no size is given, so a model trained at 320 is not run at 640 by default.
public enum PreferredInputSize {
    public static let processorFile = "preprocessor_config.json"
    public static let artifactKey = "input_size"

    /// nil when the model records no size; a recorded size that is not a usable square size is an error.
    public static func of(_ path: URL) throws(CheckpointError) -> Int? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path.path, isDirectory: &isDirectory) else { return nil }
        if !isDirectory.boolValue {
            let file = try SafeTensorsFile(contentsOf: path)
            guard let text = file.metadata[artifactKey] else { return nil }
            guard let size = Int(text), isUsable(size) else {
                throw CheckpointError(.header, file: file.fileName, subject: CheckpointError.field(artifactKey),
                                      "\(CheckpointError.quote(text, limit: 20)) is not a positive multiple of 32")
            }
            return size
        }
        let url = path.appendingPathComponent(processorFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw CheckpointError(.io, file: processorFile, subject: nil, "cannot read: \(CheckpointError.readFailure(url, error))")
        }
        let parsed = data.withUnsafeBytes { raw -> Result<CheckpointJSON.Value, CheckpointJSON.ParseError> in
            do throws(CheckpointJSON.ParseError) { return .success(try CheckpointJSON.parse(raw)) } catch { return .failure(error) }
        }
        let root: CheckpointJSON.Value
        switch parsed {
        case .success(let value): root = value
        case .failure(let error):
            throw CheckpointError(.config, file: processorFile, subject: nil, "is not valid JSON: \(error.message) at byte \(error.offset)")
        }
        guard case .object(let members) = root else {
            throw CheckpointError(.config, file: processorFile, subject: nil, "is \(root.kindName), not an object")
        }
        guard let size = members.first(where: { $0.key == "size" })?.value else { return nil }
        guard case .object(let dimensions) = size,
              let height = dimensions.first(where: { $0.key == "height" })?.value.exactInteger,
              let width = dimensions.first(where: { $0.key == "width" })?.value.exactInteger else {
            // Other processor layouts ("shortest_edge", ...) describe no square size.
            return nil
        }
        guard height == width, isUsable(height) else {
            throw CheckpointError(.config, file: processorFile, subject: CheckpointError.field("size"),
                                  "\(height)x\(width) is not a square size that is a positive multiple of 32")
        }
        return height
    }

    private static func isUsable(_ size: Int) -> Bool { (32...2048).contains(size) && size % 32 == 0 }
}

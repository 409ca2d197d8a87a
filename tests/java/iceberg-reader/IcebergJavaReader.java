// Reads the lake's Iceberg tables with Apache Iceberg's own Java library, as a Java user would.
//
// Run with Java's single-file source launcher (no build step; the jars come from
// `make iceberg-java`, see pom.xml next to this file):
//
//   java -cp '.cache/iceberg-java-<version>/libs/*' tests/java/iceberg-reader/IcebergJavaReader.java \
//       <catalog.sqlite> <warehouse URI> <catalog name> <namespace> READ...
//
// READ is `TABLE` (the current snapshot), `TABLE@snapshot=ID` or `TABLE@as-of=EPOCH_MILLIS`;
// a READ ending in `!count` reads every row the same way but prints only the summary (the
// offload benchmark's Java read, bench/offload_bench.py).
// The catalog is Iceberg's JdbcCatalog on the SQLite file, opened read-only; rows are read
// with IcebergGenerics and no name mapping, so every column is found by its Iceberg field id.
// Output, one JSON object per line: {"read": READ, "row": {...}} per row, then
// {"read": READ, "snapshot": ID or null, "rows": N, "millis": M} (M: the scan's wall time).
// Timestamps are epoch microseconds (UTC).
// Any failure: the exception on stderr and exit code 1.

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.time.OffsetDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.iceberg.CatalogProperties;
import org.apache.iceberg.Snapshot;
import org.apache.iceberg.Table;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.data.IcebergGenerics;
import org.apache.iceberg.data.Record;
import org.apache.iceberg.io.CloseableIterable;
import org.apache.iceberg.jdbc.JdbcCatalog;
import org.apache.iceberg.types.Types;
import org.apache.iceberg.util.SnapshotUtil;

public class IcebergJavaReader {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final OffsetDateTime EPOCH = OffsetDateTime.parse("1970-01-01T00:00:00Z");

  public static void main(String[] args) throws Exception {
    if (args.length < 5) {
      System.err.println(
          "usage: IcebergJavaReader CATALOG_SQLITE WAREHOUSE CATALOG NAMESPACE READ...");
      System.exit(2);
    }
    Map<String, String> properties = new HashMap<>();
    properties.put(CatalogProperties.URI, "jdbc:sqlite:" + args[0]);
    properties.put(CatalogProperties.WAREHOUSE_LOCATION, args[1]);
    properties.put("jdbc.schema-version", "V1"); // pyiceberg's tables have iceberg_type
    properties.put("jdbc.init-catalog-tables", "false"); // a reader creates nothing
    properties.put("jdbc.open_mode", "1"); // SQLITE_OPEN_READONLY: the reader changes nothing
    JdbcCatalog catalog = new JdbcCatalog();
    catalog.setConf(new Configuration());
    catalog.initialize(args[2], properties);
    Namespace namespace = Namespace.of(args[3]);
    try (BufferedWriter out =
        new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8))) {
      for (int i = 4; i < args.length; i++) {
        read(catalog, namespace, args[i], out);
      }
    } finally {
      catalog.close();
    }
  }

  private static void read(JdbcCatalog catalog, Namespace namespace, String spec, BufferedWriter out)
      throws Exception {
    boolean countOnly = spec.endsWith("!count");
    String[] parts = spec.substring(0, spec.length() - (countOnly ? 6 : 0)).split("@", 2);
    Table table = catalog.loadTable(TableIdentifier.of(namespace, parts[0]));
    IcebergGenerics.ScanBuilder scan = IcebergGenerics.read(table);
    Long snapshotId;
    if (parts.length == 1) {
      Snapshot current = table.currentSnapshot();
      snapshotId = current == null ? null : current.snapshotId();
    } else if (parts[1].startsWith("snapshot=")) {
      snapshotId = Long.parseLong(parts[1].substring("snapshot=".length()));
      scan = scan.useSnapshot(snapshotId);
    } else if (parts[1].startsWith("as-of=")) {
      long millis = Long.parseLong(parts[1].substring("as-of=".length()));
      snapshotId = SnapshotUtil.snapshotIdAsOfTime(table, millis);
      scan = scan.asOfTime(millis);
    } else {
      throw new IllegalArgumentException("unknown read " + spec);
    }
    long rows = 0;
    long started = System.nanoTime();
    Types.StructType struct = table.schema().asStruct();
    try (CloseableIterable<Record> records = scan.build()) {
      for (Record record : records) {
        if (countOnly) {
          rows++;
          continue;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("read", spec);
        line.put("row", toJson(record, struct));
        out.write(JSON.writeValueAsString(line));
        out.newLine();
        rows++;
      }
    }
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("read", spec);
    summary.put("snapshot", snapshotId);
    summary.put("rows", rows);
    summary.put("millis", (System.nanoTime() - started) / 1_000_000);
    out.write(JSON.writeValueAsString(summary));
    out.newLine();
  }

  private static Map<String, Object> toJson(Record record, Types.StructType struct) {
    Map<String, Object> result = new LinkedHashMap<>();
    for (Types.NestedField field : struct.fields()) {
      Object value = record.getField(field.name());
      if (value instanceof Record nested) {
        value = toJson(nested, field.type().asStructType());
      } else if (value instanceof OffsetDateTime time) {
        value = ChronoUnit.MICROS.between(EPOCH, time);
      } else if (value instanceof CharSequence text) {
        value = text.toString();
      }
      result.put(field.name(), value);
    }
    return result;
  }
}

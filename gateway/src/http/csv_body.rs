//! A report's CSV body, written with the `csv` crate: every cell quoted as RFC 4180 requires (a
//! hall or item name with a comma, a quote or a line break stays one cell), one header row, `\n`
//! line ends, UTF-8.

use protocol::ErrorCode;

use super::ApiError;

/// The header row, then each row's cells.
pub(crate) fn write<I>(head: &[String], rows: I) -> Result<String, ApiError>
where
    I: IntoIterator<Item = Vec<String>>,
{
    let mut out = csv::WriterBuilder::new().terminator(csv::Terminator::Any(b'\n')).from_writer(Vec::new());
    let failed = |e: csv::Error| {
        tracing::error!(error = %e, "writing a CSV report");
        ApiError::from(ErrorCode::Internal)
    };
    out.write_record(head).map_err(failed)?;
    for row in rows {
        out.write_record(&row).map_err(failed)?;
    }
    let bytes = out.into_inner().map_err(|e| failed(e.into_error().into()))?;
    String::from_utf8(bytes).map_err(|_| ErrorCode::Internal.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_with_a_comma_a_quote_or_a_line_break_stays_one_cell() {
        let head = vec!["hall".to_owned(), "offered".to_owned()];
        let rows = vec![vec!["河口区, 东城\"晓屋\"\n二号".to_owned(), "3".to_owned()], vec!["plain".into(), "".into()]];
        let body = write(&head, rows).ok().unwrap();
        assert_eq!(body, "hall,offered\n\"河口区, 东城\"\"晓屋\"\"\n二号\",3\nplain,\n");
        let mut read = csv::Reader::from_reader(body.as_bytes());
        let first = read.records().next().unwrap().unwrap();
        assert_eq!(&first[0], "河口区, 东城\"晓屋\"\n二号");
    }
}

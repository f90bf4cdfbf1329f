//! Reading containers: mbox files, gzip, and forwarded-as-attachment
//! reports. Pure readers over `Read`/`BufRead` and bytes; walking the file
//! system is the binary's job.

pub mod gzip;
pub mod mbox;
pub mod unwrap;

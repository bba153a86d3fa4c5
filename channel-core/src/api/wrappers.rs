// Shared source of the `Channel` impls of the wrappers in `metrics` and `limits`
// (see channel.rs for how it is compiled twice).

use super::Channel;
use super::form;
use crate::{Limited, Metered, RecvInfo, SendInfo};

#[form(AFIT)]
impl<C: Channel> Channel for Metered<C> {
    type SendError = C::SendError;
    type RecvError = C::RecvError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        let bytes = msg.len();
        let counted = info.clone();
        self.inner.send_bytes_to(p, msg, info).await?;
        self.record_sent(p, &counted, bytes);
        Ok(())
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        let counted = info.clone();
        let msg = self.inner.recv_bytes_from(p, info).await?;
        self.record_received(p, &counted, msg.len());
        Ok(msg)
    }

    async fn flush(&mut self) -> Result<(), Self::SendError> {
        self.inner.flush().await
    }

    fn chunk_size(&self) -> usize {
        self.inner.chunk_size()
    }

    fn max_message_size(&self) -> usize {
        self.inner.max_message_size()
    }

    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        self.inner.chunk_buffer(p, capacity)
    }

    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        self.inner.recycle(p, buf)
    }
}

#[form(AFIT)]
impl<C: Channel> Channel for Limited<C> {
    type SendError = C::SendError;
    type RecvError = C::RecvError;

    async fn send_bytes_to(
        &mut self,
        p: usize,
        msg: Vec<u8>,
        info: SendInfo,
    ) -> Result<(), Self::SendError> {
        self.inner.send_bytes_to(p, msg, info).await
    }

    async fn recv_bytes_from(
        &mut self,
        p: usize,
        info: RecvInfo,
    ) -> Result<Vec<u8>, Self::RecvError> {
        self.inner.recv_bytes_from(p, info).await
    }

    async fn flush(&mut self) -> Result<(), Self::SendError> {
        self.inner.flush().await
    }

    fn chunk_size(&self) -> usize {
        self.chunk_size.unwrap_or_else(|| self.inner.chunk_size())
    }

    fn max_message_size(&self) -> usize {
        self.max_message_size
            .unwrap_or_else(|| self.inner.max_message_size())
    }

    fn chunk_buffer(&mut self, p: usize, capacity: usize) -> Vec<u8> {
        self.inner.chunk_buffer(p, capacity)
    }

    fn recycle(&mut self, p: usize, buf: Vec<u8>) {
        self.inner.recycle(p, buf)
    }
}
